//! Fuzz the packet decoder: any frame under any link type decodes or is counted, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_capture::decode::{Decoder, LinkType};

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::new();
    for link in [LinkType::Ethernet, LinkType::Raw, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null] {
        if let Some(p) = d.decode(link, data) {
            assert!(p.ip_len >= 20, "an IP packet is at least a header");
        }
    }
    let s = d.stats();
    assert_eq!(s.frames, 5);
    assert_eq!(s.decoded + s.non_ip + s.truncated + s.malformed, 5, "every frame is accounted for");
});
