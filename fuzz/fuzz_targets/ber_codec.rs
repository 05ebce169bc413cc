//! The BER decoder path: bytes as a client sends them, split in two reads.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use oxldap_proto::codec::ServerCodec;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = ServerCodec::new(64 * 1024);
    let mut buf = BytesMut::new();
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    for piece in [&data[..split], &data[split..]] {
        buf.extend_from_slice(piece);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }
});
