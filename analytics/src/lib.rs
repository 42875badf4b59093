//! Vane analytics: the statistics engine (pure functions of summary statistics) and, later, the
//! event pipeline that feeds it.
