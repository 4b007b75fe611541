//! pipe-data's behaviour tests: the kinds run as the engine runs them (in a
//! temp dir, through `Kind::run`), the kernels against torchvision's
//! reference outputs, and the loader. No network: downloads go to a local
//! HTTP server the tests start.

mod data {
    mod augment;
    mod download;
    mod loader;
    mod resize;
    mod stl10;
    mod support;
}
