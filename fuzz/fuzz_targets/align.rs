#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trt_dump_fuzz::align_images(data));
