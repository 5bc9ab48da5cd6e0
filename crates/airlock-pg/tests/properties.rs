//! Property tests of the wire codecs. Whatever bytes a peer sends, a decoder ends in a value,
//! "need more bytes" or an error that says what is wrong — never a panic, never a read past
//! the message — and what airlock encodes decodes back to what it encoded.

use airlock_pg::{
    Decoded, Frame, FrontendMessage, MAX_FRAME, MAX_ITERATIONS, ScramClient, ScramVerifier,
    Severity, StartupPacket, decode_frame, decode_startup, encode_error, encode_frame,
    encode_startup, parse_error, parse_frontend, parse_ready,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Client message types airlock decodes, and some it does not know.
const CLIENT_TAGS: &[u8] = b"QPBEDCSHXdcfFp!z\0";

/// A name or text without NUL bytes (a C string on the wire).
fn cstr() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_ ;*'()=$-]{0,24}"
}

fn push_cstr(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.push(0);
}

fn push_i16(out: &mut Vec<u8>, value: i16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// The body of a Bind message as a client sends it.
fn bind_body(
    portal: &str,
    statement: &str,
    formats: &[i16],
    params: &[Option<Vec<u8>>],
) -> Vec<u8> {
    let mut body = Vec::new();
    push_cstr(&mut body, portal);
    push_cstr(&mut body, statement);
    push_i16(&mut body, i16::try_from(formats.len()).unwrap_or(i16::MAX));
    formats.iter().for_each(|f| push_i16(&mut body, *f));
    push_i16(&mut body, i16::try_from(params.len()).unwrap_or(i16::MAX));
    for param in params {
        match param {
            Some(value) => {
                let length = i32::try_from(value.len()).unwrap_or(i32::MAX);
                body.extend_from_slice(&length.to_be_bytes());
                body.extend_from_slice(value);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    push_i16(&mut body, 1);
    push_i16(&mut body, 0);
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_bytes_frame_whole_short_or_refused(
        buf in vec(any::<u8>(), 0..48),
        max in 0usize..64,
    ) {
        match decode_frame(&buf, max) {
            Ok(Decoded::Complete(frame, used)) => {
                prop_assert_eq!(used, frame.wire_len());
                prop_assert!(used <= buf.len());
                prop_assert!(frame.body.len() + 4 <= max);
                prop_assert_eq!(Some(&frame.tag), buf.first());
            }
            Ok(Decoded::Incomplete(more)) => prop_assert!(more > 0),
            Err(error) => prop_assert!(error.to_string().contains("length")),
        }
    }

    #[test]
    fn frames_round_trip_and_every_prefix_asks_for_the_rest(
        tag in any::<u8>(),
        body in vec(any::<u8>(), 0..256),
    ) {
        let mut wire = Vec::new();
        encode_frame(&mut wire, tag, &body);
        let whole = decode_frame(&wire, MAX_FRAME).unwrap();
        prop_assert_eq!(whole, Decoded::Complete(Frame { tag, body: &body }, wire.len()));
        for cut in 0..wire.len() {
            match decode_frame(&wire[..cut], MAX_FRAME) {
                Ok(Decoded::Incomplete(more)) => {
                    prop_assert!(more > 0 && cut + more <= wire.len());
                }
                other => prop_assert!(false, "prefix of {} bytes: {:?}", cut, other),
            }
        }
    }

    #[test]
    fn any_client_message_body_decodes_or_is_refused(
        tag in prop::sample::select(CLIENT_TAGS),
        body in vec(any::<u8>(), 0..64),
    ) {
        let frame = Frame { tag, body: &body };
        match parse_frontend(&frame) {
            Ok(FrontendMessage::Unknown { tag: unknown }) => {
                prop_assert!(!b"QPBEDCSHXdcfFp".contains(&unknown));
            }
            Ok(_) => {}
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn bind_round_trips_and_its_prefixes_and_extensions_are_refused(
        portal in cstr(),
        statement in cstr(),
        formats in vec(0i16..2, 0..4),
        params in vec(prop::option::of(vec(any::<u8>(), 0..16)), 0..6),
        extra in vec(any::<u8>(), 1..4),
    ) {
        let body = bind_body(&portal, &statement, &formats, &params);
        let decoded = parse_frontend(&Frame { tag: b'B', body: &body }).unwrap();
        let expected: Vec<Option<&[u8]>> = params.iter().map(|p| p.as_deref()).collect();
        prop_assert_eq!(decoded, FrontendMessage::Bind {
            portal: &portal,
            statement: &statement,
            formats: formats.clone(),
            params: expected,
        });
        for cut in 0..body.len() {
            let prefix = Frame { tag: b'B', body: &body[..cut] };
            prop_assert!(parse_frontend(&prefix).is_err(), "prefix of {} bytes decoded", cut);
        }
        let mut longer = body.clone();
        longer.extend_from_slice(&extra);
        let error = parse_frontend(&Frame { tag: b'B', body: &longer }).unwrap_err();
        prop_assert!(error.to_string().contains("trailing"), "{}", error);
    }

    #[test]
    fn parse_round_trips(
        name in cstr(),
        sql in cstr(),
        types in vec(any::<i32>(), 0..5),
    ) {
        let mut body = Vec::new();
        push_cstr(&mut body, &name);
        push_cstr(&mut body, &sql);
        push_i16(&mut body, i16::try_from(types.len()).unwrap());
        types.iter().for_each(|t| body.extend_from_slice(&t.to_be_bytes()));
        let decoded = parse_frontend(&Frame { tag: b'P', body: &body }).unwrap();
        prop_assert_eq!(decoded, FrontendMessage::Parse {
            name: &name,
            sql: &sql,
            param_types: types.clone(),
        });
    }

    #[test]
    fn any_bytes_startup_whole_short_or_refused(buf in vec(any::<u8>(), 0..64)) {
        match decode_startup(&buf) {
            Ok(Decoded::Complete(_, used)) => prop_assert!((8..=buf.len()).contains(&used)),
            Ok(Decoded::Incomplete(more)) => prop_assert!(more > 0),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn startup_packets_round_trip(
        params in vec(("[a-z_]{1,12}", cstr()), 0..6),
    ) {
        let borrowed: Vec<(&str, &str)> =
            params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let wire = encode_startup(&borrowed);
        let decoded = decode_startup(&wire).unwrap();
        let expected = StartupPacket::Startup { minor: 0, params: params.clone() };
        prop_assert_eq!(decoded, Decoded::Complete(expected, wire.len()));
    }

    #[test]
    fn server_errors_round_trip_and_any_bytes_are_safe(
        code in "[0-9A-Z]{5}",
        message in cstr(),
        hint in prop::option::of(cstr()),
        junk in vec(any::<u8>(), 0..48),
    ) {
        let mut wire = Vec::new();
        encode_error(&mut wire, Severity::Error, &code, &message, None, hint.as_deref());
        let Decoded::Complete(frame, _) = decode_frame(&wire, MAX_FRAME).unwrap() else {
            panic!("a whole frame was encoded");
        };
        let fields = parse_error(&frame).unwrap();
        prop_assert_eq!((fields.code, fields.message, fields.hint), (code, message, hint));
        let _ = parse_error(&Frame { tag: b'E', body: &junk });
        let _ = parse_ready(&Frame { tag: b'Z', body: &junk });
    }

    #[test]
    fn any_scram_text_from_a_peer_is_refused_or_answered(
        verifier in ".{0,80}",
        server_first in "(r=[a-zA-Z0-9]{0,12},)?(s=[a-zA-Z0-9+/=]{0,12},)?(i=[0-9]{0,12})?.{0,16}",
    ) {
        let _ = ScramVerifier::parse(&verifier);
        let (mut client, _) = ScramClient::start("secret", "abc");
        let _ = client.respond(&server_first);
    }

    #[test]
    fn a_server_cannot_make_the_gateway_hash_for_hours(
        count in "[1-9][0-9]{6,11}",
        nonce in "[a-z]{1,8}",
    ) {
        let (mut client, _) = ScramClient::start("secret", "abc");
        let iterations: u64 = count.parse().unwrap();
        let started = std::time::Instant::now();
        let answer = client.respond(&format!("r=abc{nonce},s=c2FsdA==,i={count}"));
        if iterations > u64::from(MAX_ITERATIONS) {
            prop_assert!(answer.is_err(), "{} iterations accepted", iterations);
            prop_assert!(started.elapsed() < std::time::Duration::from_millis(100));
        }
    }
}
