//! gzip bodies (RFC 1952), as the OTLP specification lets a client send them
//! (opentelemetry-proto's docs/specification.md, "OTLP/HTTP Request").

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

/// `body` in gzip, at the default level (6): OTLP protobuf shrinks to a third or less.
pub(crate) fn compress(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    #[test]
    fn a_gzip_reader_gets_the_body_back() {
        let body: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let packed = super::compress(&body);
        assert!(packed.len() < body.len() / 4, "{} bytes", packed.len());
        assert_eq!(&packed[..2], b"\x1f\x8b", "the gzip magic");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(packed.as_slice())
            .read_to_end(&mut back)
            .expect("valid gzip");
        assert_eq!(back, body);
    }
}
