//! The CRS regression suite (go-ftw YAML) run in process against the engine.
