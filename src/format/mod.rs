//! Output exactly as the Docker CLI prints it: human sizes and ages, `--format` Go
//! templates over tables, and Go-style JSON.

pub mod human;
pub mod json;
pub mod table;
