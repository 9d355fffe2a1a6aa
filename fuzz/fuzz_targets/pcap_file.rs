//! Fuzz capture-file reading: any bytes give frames or a clean error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_capture::decode::Decoder;
use vpcflow_capture::pcap::read_frames;

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::new();
    let _ = read_frames(data, &mut |_, _| {}, &mut |meta, frame| {
        if let Some(link) = meta.link {
            let _ = d.decode(link, frame);
        }
    });
});
