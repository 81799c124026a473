//! The base configuration CRS expects underneath it, and a one-call CRS
//! loader.

use std::path::{Path, PathBuf};

use super::{LoadError, RuleSet, RuleSetBuilder};

/// Engine settings and body-processing rules equivalent to ModSecurity's
/// recommended configuration: engine on, request bodies inspected, XML
/// and JSON bodies routed to their processors, unparseable bodies and
/// multipart irregularities refused.
pub fn recommended_base() -> &'static str {
    r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml
SecResponseBodyLimit 524288

# XML bodies (text/xml, application/xml, application/soap+xml) go to the
# XML processor, JSON bodies to the JSON one; the other types are chosen
# from Content-Type by the engine itself.
SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application/(?:soap\+)?|text/)xml" \
    "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" \
    "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"

# A body the processor could not understand is not inspected, so it is
# not let through either.
SecRule REQBODY_ERROR "!@eq 0" \
    "id:200002,phase:2,t:none,log,deny,status:400,\
    msg:'Request body could not be parsed',logdata:'%{reqbody_error_msg}',severity:2"

# Multipart bodies that parsers could read differently are refused.
SecRule MULTIPART_STRICT_ERROR "!@eq 0" \
    "id:200003,phase:2,t:none,log,deny,status:400,\
    msg:'Multipart body failed strict validation',severity:2"
SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" \
    "id:200004,phase:2,t:none,log,deny,status:400,\
    msg:'Multipart body has a possible unmatched boundary',severity:2"
"#
}

impl RuleSetBuilder {
    /// Adds the base configuration, `crs-setup.conf.example`, the
    /// caller's extra directives (paranoia level, exclusions …) and then
    /// `rules/*.conf` in name order.
    pub fn add_crs(&mut self, crs_dir: &Path, setup_extra: &str) -> Result<(), LoadError> {
        self.add_directives(Path::new("<recommended-base>"), crs_dir, recommended_base())?;
        self.add_file(&crs_dir.join("crs-setup.conf.example"))?;
        self.add_directives(Path::new("<setup-extra>"), crs_dir, setup_extra)?;
        let rules_dir = crs_dir.join("rules");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&rules_dir)
            .map_err(|e| LoadError {
                file: rules_dir.clone(),
                line: 0,
                message: format!("cannot list: {e}"),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        files.sort();
        for f in files {
            self.add_file(&f)?;
        }
        Ok(())
    }

    /// The whole CRS as one rule set (see [`RuleSetBuilder::add_crs`]).
    pub fn load_crs(crs_dir: &Path, setup_extra: &str) -> Result<RuleSet, LoadError> {
        let mut b = RuleSetBuilder::new();
        b.add_crs(crs_dir, setup_extra)?;
        b.build()
    }
}
