//! The compiled rule model and the meaning of each action.

use super::data::{BodyProcessor, EngineMode};
use super::macros::{Macro, RuleInfo};
use super::vars::{Exclusion, StoreKind, Target, TargetSpec, parse_target};
use crate::operators::Operator;
use crate::seclang::RawAction;
use crate::transform::Transformation;

#[derive(Debug, Clone)]
pub(crate) enum Disruptive {
    Pass,
    Deny,
    Drop,
    /// The phase's default disruptive action (resolved at load time).
    Block,
    Allow(AllowKind),
    Redirect(Macro),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllowKind {
    All,
    Phase,
    Request,
}

#[derive(Debug, Clone)]
pub(crate) enum SetOp {
    Set(Macro),
    Add(Macro),
    Sub(Macro),
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetColl {
    Tx,
    Store(StoreKind),
}

#[derive(Debug, Clone)]
pub(crate) struct SetVar {
    pub coll: SetColl,
    pub name: Macro,
    /// The lowercased name when it holds no macro.
    pub static_name: Option<String>,
    pub op: SetOp,
}

#[derive(Debug, Clone)]
pub(crate) enum Ctl {
    RuleEngine(EngineMode),
    RemoveById(Vec<(u64, u64)>),
    RemoveByTag(String),
    RemoveTargetById(Vec<(u64, u64)>, Exclusion),
    RemoveTargetByTag(String, Exclusion),
    BodyProcessor(BodyProcessor),
    BodyAccess(bool),
    ForceBodyVariable(bool),
    /// Accepted without effect in an embedded engine (audit logging).
    Ignored,
}

/// One link of a rule (the chain starter carries the metadata).
#[derive(Debug)]
pub(crate) struct Rule {
    pub id: u64,
    pub phase: u8,
    pub file: std::path::PathBuf,
    pub line: usize,
    pub targets: Vec<Target>,
    pub exclusions: Vec<Exclusion>,
    /// Set at build when the targets read request data only: the index of
    /// the per-phase cache slot shared by links with the same targets.
    pub target_set: Option<usize>,
    /// `None` for `SecAction` (always matches once).
    pub operator: Option<Operator>,
    /// Macros in the operator argument, compiled at load time.
    pub op_macros: Vec<Macro>,
    /// Index into the rule set's interned transformation chains.
    pub transforms: usize,
    pub multi_match: bool,
    pub capture: bool,
    pub setvars: Vec<SetVar>,
    pub ctls: Vec<Ctl>,
    pub chain: Option<Box<Rule>>,
    pub info: RuleInfo,
    pub msg: Option<Macro>,
    pub logdata: Option<Macro>,
    pub tags: Vec<String>,
    pub log: bool,
    pub disruptive: Disruptive,
    pub status: Option<u16>,
    /// What `block` means for this rule (its phase's default action), for
    /// `SecRuleUpdateActionById`.
    pub block_as: (Disruptive, Option<u16>),
    pub skip: u32,
    pub skip_after: Option<String>,
}

impl Rule {
    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// Actions as written, before defaults are merged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Actions {
    pub id: Option<u64>,
    pub phase: Option<u8>,
    pub msg: Option<Macro>,
    pub logdata: Option<Macro>,
    pub tags: Vec<String>,
    pub severity: Option<u8>,
    pub ver: String,
    pub rev: String,
    pub transforms: Vec<Transformation>,
    pub t_none: bool,
    pub chain: bool,
    pub skip: u32,
    pub skip_after: Option<String>,
    pub capture: bool,
    pub multi_match: bool,
    pub setvars: Vec<SetVar>,
    pub ctls: Vec<Ctl>,
    pub disruptive: Option<Disruptive>,
    pub status: Option<u16>,
    pub log: Option<bool>,
}

pub(crate) fn parse_phase(v: &str) -> Result<u8, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" => Ok(1),
        "2" | "request" => Ok(2),
        "3" => Ok(3),
        "4" | "response" => Ok(4),
        "5" | "logging" => Ok(5),
        other => Err(format!("invalid phase `{other}`")),
    }
}

fn parse_severity(v: &str) -> Result<u8, String> {
    const NAMES: [&str; 8] = [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
    ];
    if let Ok(n) = v.trim().parse::<u8>()
        && n < 8
    {
        return Ok(n);
    }
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(v.trim()))
        .and_then(|p| u8::try_from(p).ok())
        .ok_or_else(|| format!("invalid severity `{v}`"))
}

/// `123`, `100-200`.
pub(crate) fn parse_id_range(text: &str) -> Result<(u64, u64), String> {
    let text = text.trim();
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("invalid rule id `{s}`"))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if a > b {
                return Err(format!("invalid rule id range `{text}`"));
            }
            Ok((a, b))
        }
        None => parse(text).map(|a| (a, a)),
    }
}

/// Space- or comma-separated ids and ranges.
pub(crate) fn parse_id_list(text: &str) -> Result<Vec<(u64, u64)>, String> {
    text.split([' ', ','])
        .filter(|s| !s.trim().is_empty())
        .map(parse_id_range)
        .collect()
}

fn parse_setvar(v: &str) -> Result<SetVar, String> {
    let v = v.trim();
    let (delete, v) = match v.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, v),
    };
    let (name, value) = match v.split_once('=') {
        Some((n, val)) => (n.trim(), Some(val)),
        None => (v, None),
    };
    let (coll, var) = name
        .split_once('.')
        .ok_or_else(|| format!("setvar `{v}`: expected collection.name"))?;
    let coll = match coll.to_ascii_lowercase().as_str() {
        "tx" => SetColl::Tx,
        "ip" => SetColl::Store(StoreKind::Ip),
        "session" => SetColl::Store(StoreKind::Session),
        "global" => SetColl::Store(StoreKind::Global),
        "user" => SetColl::Store(StoreKind::User),
        "resource" => SetColl::Store(StoreKind::Resource),
        "env" => SetColl::Store(StoreKind::Env),
        other => return Err(format!("setvar: unknown collection `{other}`")),
    };
    let name = Macro::compile(var)?;
    let op = if delete {
        SetOp::Delete
    } else {
        match value {
            None => SetOp::Set(Macro::compile("1")?),
            Some(val) => {
                if let Some(n) = val.strip_prefix('+') {
                    SetOp::Add(Macro::compile(n)?)
                } else if let Some(n) = val.strip_prefix('-') {
                    SetOp::Sub(Macro::compile(n)?)
                } else {
                    SetOp::Set(Macro::compile(val)?)
                }
            }
        }
    };
    let static_name = (!var.contains("%{")).then(|| var.to_ascii_lowercase());
    Ok(SetVar {
        coll,
        name,
        static_name,
        op,
    })
}

fn exclusion_from(text: &str) -> Result<Exclusion, String> {
    match parse_target(text.trim_start_matches('!'))? {
        TargetSpec::Add(t) => Ok(Exclusion {
            var: t.var,
            selector: t.selector,
        }),
        TargetSpec::Exclude(e) => Ok(e),
    }
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        other => Err(format!("expected On or Off, got `{other}`")),
    }
}

fn parse_ctl(v: &str) -> Result<Ctl, String> {
    let (name, value) = v
        .split_once('=')
        .ok_or_else(|| format!("ctl `{v}`: expected name=value"))?;
    let value = value.trim();
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "ruleengine" => Ctl::RuleEngine(
            EngineMode::parse(value)
                .ok_or_else(|| format!("ctl:ruleEngine: bad mode `{value}`"))?,
        ),
        "ruleremovebyid" => Ctl::RemoveById(parse_id_list(value)?),
        "ruleremovebytag" => Ctl::RemoveByTag(value.to_owned()),
        "ruleremovetargetbyid" | "ruleremovetargetbytag" => {
            let (which, target) = value
                .split_once(';')
                .ok_or_else(|| format!("ctl:{name}: expected rule;TARGET"))?;
            let excl = exclusion_from(target)?;
            if name.trim().eq_ignore_ascii_case("ruleremovetargetbyid") {
                Ctl::RemoveTargetById(parse_id_list(which)?, excl)
            } else {
                Ctl::RemoveTargetByTag(which.trim().to_owned(), excl)
            }
        }
        "requestbodyprocessor" => Ctl::BodyProcessor(
            BodyProcessor::parse(value)
                .ok_or_else(|| format!("ctl:requestBodyProcessor: unknown `{value}`"))?,
        ),
        "requestbodyaccess" => Ctl::BodyAccess(on_off(value)?),
        "forcerequestbodyvariable" => Ctl::ForceBodyVariable(on_off(value)?),
        "auditengine" | "auditlogparts" | "debugloglevel" | "requestbodylimit"
        | "responsebodyaccess" | "hashengine" => Ctl::Ignored,
        other => return Err(format!("unsupported ctl `{other}`")),
    })
}

/// Folds a SecRule/SecAction/SecDefaultAction action list into [`Actions`].
pub(crate) fn parse_actions(raw: &[RawAction]) -> Result<Actions, String> {
    let mut a = Actions::default();
    for action in raw {
        let v = action.value.as_deref().unwrap_or("");
        let need = |what: &str| -> Result<(), String> {
            if action.value.is_none() {
                Err(format!("action `{what}` needs a value"))
            } else {
                Ok(())
            }
        };
        match action.name.to_ascii_lowercase().as_str() {
            "id" => {
                need("id")?;
                let id = v
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("invalid id `{v}`"))?;
                if id == 0 {
                    return Err("id 0 is not allowed".into());
                }
                a.id = Some(id);
            }
            "phase" => a.phase = Some(parse_phase(v)?),
            "msg" => a.msg = Some(Macro::compile(v)?),
            "logdata" => a.logdata = Some(Macro::compile(v)?),
            "tag" => a.tags.push(v.to_owned()),
            "severity" => a.severity = Some(parse_severity(v)?),
            "ver" => a.ver = v.to_owned(),
            "rev" => a.rev = v.to_owned(),
            "maturity" | "accuracy" => {}
            "t" => {
                let t = Transformation::parse(v.trim()).map_err(|e| e.to_string())?;
                if t == Transformation::None {
                    a.transforms.clear();
                    a.t_none = true;
                } else {
                    a.transforms.push(t);
                }
            }
            "chain" => a.chain = true,
            "skip" => {
                a.skip = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid skip `{v}`"))?;
            }
            "skipafter" => {
                need("skipAfter")?;
                a.skip_after = Some(v.trim().to_owned());
            }
            "capture" => a.capture = true,
            "multimatch" => a.multi_match = true,
            "setvar" => a.setvars.push(parse_setvar(v)?),
            "ctl" => a.ctls.push(parse_ctl(v)?),
            "block" => a.disruptive = Some(Disruptive::Block),
            "deny" => a.disruptive = Some(Disruptive::Deny),
            "drop" => a.disruptive = Some(Disruptive::Drop),
            "pass" => a.disruptive = Some(Disruptive::Pass),
            "allow" => {
                let kind = match v.trim().to_ascii_lowercase().as_str() {
                    "" => AllowKind::All,
                    "phase" => AllowKind::Phase,
                    "request" => AllowKind::Request,
                    other => return Err(format!("invalid allow `{other}`")),
                };
                a.disruptive = Some(Disruptive::Allow(kind));
            }
            "redirect" => {
                need("redirect")?;
                a.disruptive = Some(Disruptive::Redirect(Macro::compile(v)?));
            }
            "status" => {
                let s = v
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|s| (100..=999).contains(s))
                    .ok_or_else(|| format!("invalid status `{v}`"))?;
                a.status = Some(s);
            }
            "log" => a.log = Some(true),
            "nolog" => a.log = Some(false),
            "auditlog" | "noauditlog" | "initcol" | "expirevar" | "setsid" | "setuid"
            | "sanitisematched" | "sanitisearg" | "sanitizematched" | "sanitizearg" => {}
            other => return Err(format!("unknown action `{other}`")),
        }
    }
    Ok(a)
}
