//! Console rendering benchmark (being written).

fn main() {}
