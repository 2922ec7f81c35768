//! The static option table: one entry per option. It drives `--help`, the man
//! page and the shell completions. (Filled in by the parser work.)
