//! One file per task, each only `impl flags::X { run }`: what it asks of the parts (`dev`,
//! `engine`, `source`, `ops`, `fork`) and what it says. No task imports another.

mod adopt;
mod binary;
mod ci;
mod clean;
mod doctor;
mod down;
mod hooks;
mod image;
mod install;
mod run;
mod shell;
mod smoke;
mod test_integration;
mod test_unit;
mod validate;
