//! From directives to a [`RuleSet`]: defaults merged, chains linked,
//! removals and target updates applied, markers placed, transformation
//! chains interned, all at load time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::LoadError;
use super::data::EngineMode;
use super::macros::RuleInfo;
use super::rule::{Actions, Disruptive, Rule, parse_actions, parse_id_list};
use super::vars::{TargetSpec, parse_target};
use crate::operators::{Operator, OperatorContext};
use crate::seclang::{Directive, parse_directives, split_actions, split_targets};
use crate::transform::Transformation;

/// Engine-wide settings from `Sec*` directives.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub engine: EngineMode,
    pub body_access: bool,
    pub response_body_access: bool,
    pub body_limit: usize,
    /// `SecRequestBodyLimitAction Reject` (ModSecurity's default): a body
    /// over the limit is refused with 413 rather than partly inspected.
    pub body_limit_reject: bool,
    pub response_body_limit: usize,
    pub json_depth: usize,
    pub args_limit: usize,
    pub response_mime: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            // ModSecurity starts Off; an embedded engine given rules wants
            // them to run, so On unless a SecRuleEngine says otherwise.
            engine: EngineMode::On,
            body_access: false,
            response_body_access: false,
            body_limit: 13_107_200,
            body_limit_reject: true,
            response_body_limit: 524_288,
            json_depth: 512,
            args_limit: 1000,
            response_mime: vec!["text/plain".into(), "text/html".into()],
        }
    }
}

#[derive(Debug, Clone)]
struct Defaults {
    transforms: Vec<Transformation>,
    disruptive: Disruptive,
    status: Option<u16>,
    log: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            transforms: Vec::new(),
            disruptive: Disruptive::Pass,
            status: None,
            log: true,
        }
    }
}

/// A directive's failure: its own message, or an included file's error.
enum DirError {
    Msg(String),
    Load(LoadError),
}

impl From<String> for DirError {
    fn from(m: String) -> Self {
        DirError::Msg(m)
    }
}

impl From<&str> for DirError {
    fn from(m: &str) -> Self {
        DirError::Msg(m.to_owned())
    }
}

pub(super) enum Pending {
    Rule(Box<Rule>),
    Marker(String),
}

/// Reads SecLang into rules; [`RuleSetBuilder::build`] compiles them.
#[derive(Default)]
pub struct RuleSetBuilder {
    pub(super) items: Vec<Pending>,
    defaults: [Defaults; 5],
    pub(super) config: Config,
    /// Links of a chain being read (starter first).
    open_chain: Vec<Rule>,
    pub(super) open_chain_at: Option<(PathBuf, usize)>,
    pub(super) remove_ids: Vec<(u64, u64)>,
    pub(super) remove_tags: Vec<String>,
    pub(super) update_by_id: Vec<((u64, u64), Vec<TargetSpec>)>,
    pub(super) update_by_tag: Vec<(String, Vec<TargetSpec>)>,
    pub(super) update_actions: Vec<(u64, Actions)>,
    pub(super) tchains: Vec<Vec<Transformation>>,
    tchain_ids: HashMap<Vec<Transformation>, usize>,
    pub(super) first_error: Option<LoadError>,
    include_depth: usize,
}

impl std::fmt::Debug for RuleSetBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSetBuilder")
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

pub(super) fn err(file: &Path, line: usize, message: impl Into<String>) -> LoadError {
    LoadError {
        file: file.to_path_buf(),
        line,
        message: message.into(),
    }
}

impl RuleSetBuilder {
    pub fn new() -> Self {
        let mut b = Self::default();
        b.tchains.push(Vec::new());
        b.tchain_ids.insert(Vec::new(), 0);
        b
    }

    /// Parses directives from memory. `origin` names the text in errors;
    /// `Include` and data files resolve against `base_dir`.
    pub fn add_directives(
        &mut self,
        origin: &Path,
        base_dir: &Path,
        text: &str,
    ) -> Result<(), LoadError> {
        let result = self.add_directives_inner(origin, base_dir, text);
        if let Err(e) = &result
            && self.first_error.is_none()
        {
            self.first_error = Some(e.clone());
        }
        result
    }

    fn add_directives_inner(
        &mut self,
        origin: &Path,
        base_dir: &Path,
        text: &str,
    ) -> Result<(), LoadError> {
        let directives =
            parse_directives(text).map_err(|e| err(origin, e.line, e.message.clone()))?;
        for d in &directives {
            match self.directive(origin, base_dir, d) {
                Ok(()) => {}
                Err(DirError::Msg(m)) => return Err(err(origin, d.line, m)),
                Err(DirError::Load(e)) => return Err(e),
            }
        }
        if self.include_depth == 0
            && let Some((file, line)) = &self.open_chain_at
        {
            return Err(err(file, *line, "chain without a following rule"));
        }
        Ok(())
    }

    /// Reads one file (its `Include`s relative to it).
    pub fn add_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| err(path, 0, format!("cannot read: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        self.add_directives(path, base, &text)
    }

    fn include(&mut self, base_dir: &Path, pattern: &str) -> Result<(), DirError> {
        if self.include_depth > 16 {
            return Err("Include nested too deeply".into());
        }
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base_dir.join(pattern)
        };
        let pattern_text = full.to_string_lossy().into_owned();
        let mut paths: Vec<PathBuf> = glob::glob(&pattern_text)
            .map_err(|e| DirError::from(format!("bad Include pattern `{pattern}`: {e}")))?
            .filter_map(Result::ok)
            .collect();
        paths.sort();
        if paths.is_empty() && !pattern.contains(['*', '?', '[']) {
            return Err(format!("Include: no file `{}`", full.display()).into());
        }
        self.include_depth += 1;
        let mut result = Ok(());
        for p in paths {
            let loaded = std::fs::read_to_string(&p)
                .map_err(|e| DirError::from(format!("Include {}: {e}", p.display())))
                .and_then(|text| {
                    let base = p.parent().unwrap_or(Path::new(".")).to_path_buf();
                    // Nested errors name their own file and line.
                    self.add_directives_inner(&p, &base, &text)
                        .map_err(DirError::Load)
                });
            if let Err(e) = loaded {
                result = Err(e);
                break;
            }
        }
        self.include_depth -= 1;
        result
    }

    fn directive(&mut self, origin: &Path, base_dir: &Path, d: &Directive) -> Result<(), DirError> {
        if d.name.eq_ignore_ascii_case("include") {
            if !self.open_chain.is_empty() {
                return Err("Include where a chained SecRule was expected".into());
            }
            let pattern = d.args.first().ok_or("Include: missing argument")?;
            return self.include(base_dir, pattern);
        }
        self.directive_inner(origin, base_dir, d)
            .map_err(DirError::Msg)
    }

    fn directive_inner(
        &mut self,
        origin: &Path,
        base_dir: &Path,
        d: &Directive,
    ) -> Result<(), String> {
        let arg = |i: usize| -> Result<&str, String> {
            d.args
                .get(i)
                .map(String::as_str)
                .ok_or_else(|| format!("{}: missing argument", d.name))
        };
        let name = d.name.to_ascii_lowercase();
        if !self.open_chain.is_empty() && name != "secrule" {
            return Err(format!("{} where a chained SecRule was expected", d.name));
        }
        match name.as_str() {
            "secrule" => {
                let targets = arg(0)?;
                let op = arg(1)?;
                let actions = d.args.get(2).map(String::as_str).unwrap_or("");
                self.rule(origin, base_dir, d.line, Some((targets, op)), actions)
            }
            "secaction" => self.rule(origin, base_dir, d.line, None, arg(0)?),
            "secmarker" => {
                self.items.push(Pending::Marker(arg(0)?.to_owned()));
                Ok(())
            }
            "secdefaultaction" => self.default_action(arg(0)?),
            "secruleengine" => {
                self.config.engine = EngineMode::parse(arg(0)?).ok_or_else(|| {
                    format!("SecRuleEngine: bad value `{}`", arg(0).unwrap_or(""))
                })?;
                Ok(())
            }
            "secrequestbodyaccess" => {
                self.config.body_access = on_off(arg(0)?)?;
                Ok(())
            }
            "secresponsebodyaccess" => {
                self.config.response_body_access = on_off(arg(0)?)?;
                Ok(())
            }
            "secrequestbodylimit" => {
                self.config.body_limit = number(arg(0)?)?;
                Ok(())
            }
            "secrequestbodylimitaction" => {
                self.config.body_limit_reject = match arg(0)?.to_ascii_lowercase().as_str() {
                    "reject" => true,
                    "processpartial" => false,
                    other => return Err(format!("SecRequestBodyLimitAction: bad value `{other}`")),
                };
                Ok(())
            }
            "secresponsebodylimit" => {
                self.config.response_body_limit = number(arg(0)?)?;
                Ok(())
            }
            "secrequestbodyjsondepthlimit" => {
                self.config.json_depth = number(arg(0)?)?;
                Ok(())
            }
            "secargumentslimit" => {
                self.config.args_limit = number(arg(0)?)?;
                Ok(())
            }
            "secresponsebodymimetype" => {
                self.config.response_mime = d.args.iter().map(|s| s.to_ascii_lowercase()).collect();
                Ok(())
            }
            "secresponsebodymimetypesclear" => {
                self.config.response_mime.clear();
                Ok(())
            }
            "secruleremovebyid" => {
                for a in &d.args {
                    self.remove_ids.extend(parse_id_list(a)?);
                }
                Ok(())
            }
            "secruleremovebytag" => {
                self.remove_tags.extend(d.args.iter().cloned());
                Ok(())
            }
            "secruleremovebymsg" => Err("SecRuleRemoveByMsg is not supported".into()),
            "secruleupdateactionbyid" => {
                let id = arg(0)?;
                let id = id
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("SecRuleUpdateActionById: bad rule id `{id}`"))?;
                let a = parse_actions(&split_actions(arg(1)?)?)?;
                if a.id.is_some() || a.phase.is_some() || a.chain {
                    return Err("SecRuleUpdateActionById cannot change id, phase or chain".into());
                }
                self.update_actions.push((id, a));
                Ok(())
            }
            "secruleupdatetargetbyid" | "secruleupdatetargetbytag" => {
                let specs = split_targets(arg(1)?)
                    .iter()
                    .map(|t| parse_target(t))
                    .collect::<Result<Vec<_>, _>>()?;
                if arg(2).is_ok() {
                    return Err(format!("{}: replacing targets is not supported", d.name));
                }
                if name == "secruleupdatetargetbyid" {
                    for r in parse_id_list(arg(0)?)? {
                        self.update_by_id.push((r, specs.clone()));
                    }
                } else {
                    self.update_by_tag.push((arg(0)?.to_owned(), specs));
                }
                Ok(())
            }
            // Settings without effect in an embedded engine: logging,
            // storage paths and limits enforced elsewhere.
            "seccomponentsignature"
            | "secserversignature"
            | "secauditengine"
            | "secauditlog"
            | "secauditlog2"
            | "secauditlogparts"
            | "secauditlogtype"
            | "secauditlogformat"
            | "secauditlogstoragedir"
            | "secauditlogdirmode"
            | "secauditlogfilemode"
            | "secauditlogrelevantstatus"
            | "secdebuglog"
            | "secdebugloglevel"
            | "sectmpdir"
            | "secdatadir"
            | "secuploaddir"
            | "secuploadkeepfiles"
            | "secuploadfilemode"
            | "secuploadfilelimit"
            | "sectmpsaveuploadedfiles"
            | "seccollectiontimeout"
            | "secpcrematchlimit"
            | "secpcrematchlimitrecursion"
            | "secrequestbodyinmemorylimit"
            | "secrequestbodynofileslimit"
            | "secresponsebodylimitaction"
            | "secstatusengine"
            | "secunicodemapfile"
            | "seccookieformat" => Ok(()),
            "secargumentseparator" => {
                if arg(0)? == "&" {
                    Ok(())
                } else {
                    Err("SecArgumentSeparator other than & is not supported".into())
                }
            }
            _ => Err(format!("unknown or unsupported directive `{}`", d.name)),
        }
    }

    fn default_action(&mut self, text: &str) -> Result<(), String> {
        let a = parse_actions(&split_actions(text)?)?;
        let phase = a.phase.ok_or("SecDefaultAction must name a phase")?;
        let disruptive = a
            .disruptive
            .ok_or("SecDefaultAction must name a disruptive action")?;
        if matches!(disruptive, Disruptive::Block) {
            return Err("SecDefaultAction cannot use block".into());
        }
        if a.id.is_some() || a.chain || !a.setvars.is_empty() || a.skip_after.is_some() {
            return Err("SecDefaultAction cannot carry id, chain, setvar or skipAfter".into());
        }
        let slot = self
            .defaults
            .get_mut(usize::from(phase) - 1)
            .ok_or("bad phase")?;
        *slot = Defaults {
            transforms: a.transforms,
            disruptive,
            status: a.status,
            log: a.log.unwrap_or(true),
        };
        Ok(())
    }

    pub(super) fn intern(&mut self, chain: Vec<Transformation>) -> usize {
        if let Some(&id) = self.tchain_ids.get(&chain) {
            return id;
        }
        let id = self.tchains.len();
        self.tchains.push(chain.clone());
        self.tchain_ids.insert(chain, id);
        id
    }

    fn rule(
        &mut self,
        origin: &Path,
        base_dir: &Path,
        line: usize,
        target_op: Option<(&str, &str)>,
        actions: &str,
    ) -> Result<(), String> {
        let a: Actions = parse_actions(&split_actions(actions)?)?;
        let is_link = !self.open_chain.is_empty();
        let phase = if let Some(starter) = self.open_chain.first() {
            if a.phase.is_some() {
                return Err("a chained rule cannot set phase".into());
            }
            if a.id.is_some() {
                return Err("a chained rule cannot have an id".into());
            }
            if a.disruptive.is_some() && !matches!(a.disruptive, Some(Disruptive::Pass)) {
                return Err("a chained rule cannot have a disruptive action".into());
            }
            starter.phase
        } else {
            if a.id.is_none() {
                return Err("rule without an id".into());
            }
            a.phase.unwrap_or(2)
        };
        let defaults = self
            .defaults
            .get(usize::from(phase) - 1)
            .cloned()
            .unwrap_or_default();

        let mut targets = Vec::new();
        let mut exclusions = Vec::new();
        let mut operator = None;
        let mut op_macros = Vec::new();
        if let Some((t, op)) = target_op {
            for spec in split_targets(t) {
                match parse_target(&spec)? {
                    TargetSpec::Add(t) => targets.push(t),
                    TargetSpec::Exclude(e) => exclusions.push(e),
                }
            }
            if targets.is_empty() {
                return Err("SecRule without targets".into());
            }
            let ctx = OperatorContext { base_dir };
            operator = Some(Operator::compile(op, &ctx).map_err(|e| e.to_string())?);
            op_macros = super::macros::precompile_operator_macros(op);
        }
        let mut chain_t = if a.t_none {
            Vec::new()
        } else {
            defaults.transforms.clone()
        };
        chain_t.extend(a.transforms.iter().copied());
        let transforms = self.intern(chain_t);

        let (disruptive, status) = match a.disruptive.clone() {
            None | Some(Disruptive::Block) => {
                (defaults.disruptive.clone(), a.status.or(defaults.status))
            }
            Some(d) => (d, a.status),
        };
        let info = RuleInfo {
            id: a.id.unwrap_or(0),
            msg: a
                .msg
                .as_ref()
                .map(|m| m.raw().to_owned())
                .unwrap_or_default(),
            severity: a.severity,
            ver: a.ver.clone(),
            rev: a.rev.clone(),
            logdata: a
                .logdata
                .as_ref()
                .map(|m| m.raw().to_owned())
                .unwrap_or_default(),
        };
        let rule = Rule {
            id: a.id.unwrap_or(0),
            phase,
            file: origin.to_path_buf(),
            line,
            targets,
            exclusions,
            target_set: None,
            operator,
            op_macros,
            transforms,
            multi_match: a.multi_match,
            capture: a.capture,
            setvars: a.setvars,
            ctls: a.ctls,
            chain: None,
            info,
            msg: a.msg,
            logdata: a.logdata,
            tags: a.tags,
            log: a.log.unwrap_or(defaults.log),
            disruptive,
            status,
            block_as: (defaults.disruptive.clone(), defaults.status),
            skip: a.skip,
            skip_after: a.skip_after,
        };
        if !is_link {
            self.open_chain_at = Some((origin.to_path_buf(), line));
        }
        self.open_chain.push(rule);
        if !a.chain {
            self.close_chain();
        }
        Ok(())
    }

    fn close_chain(&mut self) {
        let mut links = std::mem::take(&mut self.open_chain);
        self.open_chain_at = None;
        let mut next: Option<Box<Rule>> = None;
        while let Some(mut link) = links.pop() {
            link.chain = next;
            next = Some(Box::new(link));
        }
        if let Some(starter) = next {
            self.items.push(Pending::Rule(starter));
        }
    }
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected On or Off, got `{other}`")),
    }
}

fn number(v: &str) -> Result<usize, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("expected a number, got `{v}`"))
}
