//! SecLang directive parser (see the engine module for the compiled form).
