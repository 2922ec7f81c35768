//! The `nestwrap` binary. Users install it as `bwrap`.
//! All logic lives in the library so that tests and the fuzzer can reach it.

fn main() {
    let code = nestwrap::run_main();
    std::process::exit(code);
}
