//! [`Lifetimes`]: how long a request waits for votes and how long its grant stays usable.

use time::Duration;

use crate::LifetimeError;

/// How long a request waits for votes, and how long its grant stays usable once approved.
/// Whole seconds, from 1 second to [`Lifetimes::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    request: Duration,
    grant: Duration,
}

impl Lifetimes {
    pub const DEFAULT_REQUEST: Duration = Duration::HOUR;
    pub const DEFAULT_GRANT: Duration = Duration::minutes(15);
    /// The longest lifetime accepted for either: 30 days.
    pub const MAX: Duration = Duration::days(30);

    /// Checks both lifetimes; fractions of a second are dropped.
    pub fn new(request: Duration, grant: Duration) -> Result<Self, LifetimeError> {
        Ok(Self {
            request: whole_seconds("request", request)?,
            grant: whole_seconds("grant", grant)?,
        })
    }

    pub fn request(&self) -> Duration {
        self.request
    }

    pub fn grant(&self) -> Duration {
        self.grant
    }
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            request: Self::DEFAULT_REQUEST,
            grant: Self::DEFAULT_GRANT,
        }
    }
}

fn whole_seconds(what: &'static str, lifetime: Duration) -> Result<Duration, LifetimeError> {
    let seconds = lifetime.whole_seconds();
    if seconds < 1 {
        return Err(LifetimeError::TooShort { what, seconds });
    }
    let max = Lifetimes::MAX.whole_seconds();
    if seconds > max {
        return Err(LifetimeError::TooLong { what, seconds, max });
    }
    Ok(Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_whole_seconds_within_bounds() {
        let ok = Lifetimes::new(Duration::milliseconds(90_500), Duration::minutes(5)).unwrap();
        assert_eq!(ok.request(), Duration::seconds(90));
        assert_eq!(ok.grant(), Duration::minutes(5));
        let short = Lifetimes::new(Duration::milliseconds(999), Duration::MINUTE);
        assert_eq!(
            short.unwrap_err().to_string(),
            "the request lifetime must be at least 1 second, got 0s"
        );
        let long = Lifetimes::new(Duration::MINUTE, Duration::days(31));
        assert!(matches!(
            long,
            Err(LifetimeError::TooLong { what: "grant", .. })
        ));
        let default = Lifetimes::default();
        assert_eq!(default.grant(), Duration::minutes(15));
        assert_eq!(default.request(), Duration::HOUR);
    }
}
