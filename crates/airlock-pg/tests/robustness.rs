//! Random and truncated bytes through every decoder: an error or "need more bytes", never a
//! panic. Deterministic (fixed-seed generator) so a failure reproduces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use airlock_pg::{
    Decoded, Frame, MAX_FRAME, ScramServer, ScramVerifier, decode_frame, decode_startup,
    encode_frame, parse_error, parse_frontend, parse_ready,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % max;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_bodies_never_panic_the_decoders() {
    let mut rng = Rng(0xfeed_beef_1234_5678);
    let tags = b"QPBEDCSHXdcfFpZEN?";
    for _ in 0..20_000 {
        let body = rng.bytes(64);
        let tag = tags[(rng.next() as usize) % tags.len()];
        let frame = Frame { tag, body: &body };
        let _ = parse_frontend(&frame);
        let _ = parse_error(&frame);
        let _ = parse_ready(&frame);
        let mut wire = Vec::new();
        encode_frame(&mut wire, tag, &body);
        let cut = (rng.next() as usize) % (wire.len() + 1);
        match decode_frame(&wire[..cut], MAX_FRAME) {
            Ok(Decoded::Complete(f, used)) => assert_eq!((f.body, used), (&body[..], wire.len())),
            Ok(Decoded::Incomplete(n)) => assert!(n > 0 && cut < wire.len()),
            Err(e) => panic!("a well-formed prefix is never an error: {e}"),
        }
        let _ = decode_startup(&rng.bytes(40));
        let mut startup = vec![0, 0, 0, 40, 0, 3, 0, 0];
        startup.extend(rng.bytes(32));
        let _ = decode_startup(&startup);
    }
}

#[test]
fn garbage_scram_messages_are_errors() {
    let mut rng = Rng(99);
    let verifier = ScramVerifier::new("k", b"salt", 16);
    for _ in 0..2_000 {
        let first = String::from_utf8_lossy(&rng.bytes(40)).into_owned();
        if let Ok((server, _)) = ScramServer::start(verifier.clone(), &first, "n") {
            let last = String::from_utf8_lossy(&rng.bytes(60)).into_owned();
            assert!(server.finish(&last).is_err());
        }
        assert!(ScramVerifier::parse(&String::from_utf8_lossy(&rng.bytes(60))).is_err());
    }
}
