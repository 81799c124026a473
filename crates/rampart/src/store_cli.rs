//! `rampart token|account|site …`: work on the store directly, with or
//! without a running server (SQLite allows one writer at a time and waits for
//! it; a running edge picks the change up from the store's revision).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use rampart_config::{Config, SiteSpec, compile_site_with_lists};
use rampart_store::{Actor, NewToken, NewUser, Role, SiteWrite, Store};

use crate::{EX_CONFIG, EX_SOFTWARE, EX_UNAVAILABLE};

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it as the last line (shown once).
    Create {
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// operator-admin, trust-safety, account-owner or account-member.
        #[arg(long)]
        role: String,
        /// Account (name or id) for account roles.
        #[arg(long)]
        account: Option<String>,
        /// Existing user (email) the token belongs to; default: a service
        /// user for the role.
        #[arg(long)]
        user: Option<String>,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain: exits 0 when every entry holds,
    /// 65 naming the first entry that was changed, removed or reordered.
    Verify {
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn audit(command: AuditCommand) -> ExitCode {
    block_on(async move {
        let AuditCommand::Verify { config } = command;
        let store = open(&load_config(config.as_deref())?).await?;
        let report = store.verify_audit_chain().await?;
        match report.broken {
            None => {
                println!(
                    "audit log intact: {} chained entr{}{}",
                    report.entries,
                    if report.entries == 1 { "y" } else { "ies" },
                    if report.unchained > 0 {
                        format!(
                            " ({} older entries from before the chain)",
                            report.unchained
                        )
                    } else {
                        String::new()
                    }
                );
                Ok(())
            }
            Some(broken) => {
                let at = broken
                    .seq
                    .map_or_else(|| "an entry".to_owned(), |seq| format!("entry #{seq}"));
                Err(Failure(
                    EX_DATAERR,
                    format!(
                        "audit log broken at {at} (id {}): {}; the {} entries before it hold",
                        broken.id, broken.reason, report.entries
                    ),
                ))
            }
        }
    })
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account.
    Create {
        name: String,
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// List accounts: id and name.
    List {
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Delete an account (name or id) with its sites and users.
    Delete {
        account: String,
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum SiteCommand {
    /// List sites: id, account, name, hosts.
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print a site's settings as JSON.
    Show {
        site: String,
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Create a site in an account from a JSON spec file ("-" for stdin),
    /// the same document `POST /api/v1/sites` takes.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long, value_name = "SPEC.json")]
        spec: PathBuf,
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Delete a site (name or id).
    Delete {
        site: String,
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// A failure with the exit code it maps to.
struct Failure(u8, String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(EX_SOFTWARE, error.to_string())
    }
}

fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("rampart: {message}");
            ExitCode::from(code)
        }
    }
}

fn block_on<F: std::future::Future<Output = Result<(), Failure>>>(future: F) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => finish(runtime.block_on(future)),
        Err(error) => finish(Err(Failure(EX_SOFTWARE, error.to_string()))),
    }
}

fn load_config(path: Option<&Path>) -> Result<Config, Failure> {
    match path {
        Some(path) => rampart_config::load_file(path)
            .map_err(|errors| Failure(EX_CONFIG, format!("{errors}"))),
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
            Ok(rampart_config::defaults(&cwd))
        }
    }
}

async fn open(config: &Config) -> Result<Store, Failure> {
    if config.store.url.is_none() {
        std::fs::create_dir_all(&config.node.data_dir).map_err(|e| {
            Failure(
                EX_UNAVAILABLE,
                format!("cannot create {}: {e}", config.node.data_dir.display()),
            )
        })?;
    }
    rampart_control::open_store(config)
        .await
        .map_err(|e| Failure(EX_UNAVAILABLE, format!("cannot open the store: {e}")))
}

fn actor() -> Actor {
    Actor::system("cli")
}

async fn find_account(store: &Store, key: &str) -> Result<rampart_store::Account, Failure> {
    if let Some(account) = store.account_by_name(key).await? {
        return Ok(account);
    }
    store
        .get_account(key)
        .await
        .map_err(|_| Failure(EX_DATAERR, format!("no account named '{key}'")))
}

async fn find_site(store: &Store, key: &str) -> Result<rampart_store::SiteRecord, Failure> {
    if let Some(site) = store.site_by_name(key).await? {
        return Ok(site);
    }
    store
        .get_site(key)
        .await
        .map_err(|_| Failure(EX_DATAERR, format!("no site named '{key}'")))
}

pub fn token(command: TokenCommand) -> ExitCode {
    let TokenCommand::Create {
        config,
        role,
        account,
        user,
        name,
    } = command;
    block_on(async move {
        let config = load_config(config.as_deref())?;
        let role = Role::parse(&role).ok_or_else(|| {
            Failure(
                EX_USAGE,
                format!("unknown role '{role}': use operator-admin, trust-safety, account-owner or account-member"),
            )
        })?;
        let store = open(&config).await?;
        let account = match (&account, role.is_operator()) {
            (Some(_), true) => {
                return Err(Failure(
                    EX_USAGE,
                    "operator roles belong to no account: leave --account out".into(),
                ));
            }
            (None, false) => {
                return Err(Failure(
                    EX_USAGE,
                    "account roles need --account NAME".into(),
                ));
            }
            (Some(key), false) => Some(find_account(&store, key).await?),
            (None, true) => None,
        };
        let owner = match &user {
            Some(email) => {
                let (owner, _) = store
                    .user_by_email(email)
                    .await?
                    .ok_or_else(|| Failure(EX_DATAERR, format!("no user with email '{email}'")))?;
                if !rampart_control::api::auth::role_within(&owner.role, &role) {
                    return Err(Failure(
                        EX_USAGE,
                        format!(
                            "user '{email}' is {}; a token cannot have more rights",
                            owner.role.as_str()
                        ),
                    ));
                }
                owner
            }
            None => service_user(&store, &role, account.as_ref()).await?,
        };
        let (token, secret) = store
            .create_token(
                &actor(),
                NewToken {
                    user_id: owner.id.clone(),
                    name,
                    role: role.clone(),
                    site_ids: None,
                    expires_at: None,
                },
            )
            .await?;
        eprintln!(
            "rampart: token {} for {} ({}); it is shown once:",
            token.id,
            owner.email,
            role.as_str()
        );
        println!("{secret}");
        Ok(())
    })
}

/// The user CLI-made tokens belong to when no `--user` is given: one per
/// role (and account), so the audit log tells CLI tokens apart.
async fn service_user(
    store: &Store,
    role: &Role,
    account: Option<&rampart_store::Account>,
) -> Result<rampart_store::User, Failure> {
    let email = match account {
        Some(account) => format!("cli-{}-{}@rampart.local", role.as_str(), account.id),
        None => format!("cli-{}@rampart.local", role.as_str()),
    }
    .replace('_', "-");
    if let Some((user, _)) = store.user_by_email(&email).await? {
        return Ok(user);
    }
    Ok(store
        .create_user(
            &actor(),
            NewUser {
                account_id: account.map(|a| a.id.clone()),
                email,
                name: format!("CLI {}", role.as_str()),
                role: role.clone(),
                password_hash: None,
            },
        )
        .await?)
}

pub fn account(command: AccountCommand) -> ExitCode {
    block_on(async move {
        match command {
            AccountCommand::Create { name, config } => {
                let store = open(&load_config(config.as_deref())?).await?;
                let account = store.create_account(&actor(), name.trim()).await?;
                println!("{}\t{}", account.id, account.name);
            }
            AccountCommand::List { config } => {
                let store = open(&load_config(config.as_deref())?).await?;
                for account in store.list_accounts().await? {
                    println!("{}\t{}", account.id, account.name);
                }
            }
            AccountCommand::Delete { account, config } => {
                let store = open(&load_config(config.as_deref())?).await?;
                let account = find_account(&store, &account).await?;
                if account.name == rampart_control::FILE_ACCOUNT {
                    return Err(Failure(EX_USAGE, "this account holds the configuration file's sites; change the file instead".into()));
                }
                store.delete_account(&actor(), &account.id).await?;
                eprintln!("rampart: deleted account {}", account.name);
            }
        }
        Ok(())
    })
}

pub fn site(command: SiteCommand) -> ExitCode {
    block_on(async move {
        match command {
            SiteCommand::List { account, config } => {
                let store = open(&load_config(config.as_deref())?).await?;
                let account = match &account {
                    Some(key) => Some(find_account(&store, key).await?.id),
                    None => None,
                };
                for site in store.list_sites(account.as_deref()).await? {
                    println!(
                        "{}\t{}\t{}\t{}{}",
                        site.id,
                        site.account_id,
                        site.name,
                        site.hosts.join(","),
                        if site.file_managed { "\t(file)" } else { "" }
                    );
                }
            }
            SiteCommand::Show { site, config } => {
                let store = open(&load_config(config.as_deref())?).await?;
                let site = find_site(&store, &site).await?;
                let view = rampart_control::api::sites::SiteView::from(&site);
                println!("{}", serde_json::to_string_pretty(&view)?);
            }
            SiteCommand::Create {
                account,
                spec,
                config,
            } => {
                let config = load_config(config.as_deref())?;
                let text = if spec.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(&spec).map_err(|e| {
                        Failure(EX_DATAERR, format!("cannot read {}: {e}", spec.display()))
                    })?
                };
                let parsed: SiteSpec = serde_json::from_str(&text)
                    .map_err(|e| Failure(EX_DATAERR, format!("{}: {e}", spec.display())))?;
                let store = open(&config).await?;
                let account = find_account(&store, &account).await?;
                // Its rules may use the account's lists and the operator's.
                let lists =
                    rampart_control::lists_in_scope(&store, &config.lists, Some(&account.id))
                        .await?;
                let known = |name: &str| lists.contains(name);
                if let Err(errors) =
                    compile_site_with_lists(&parsed, &config.proxy.timeouts, &known)
                {
                    let lines: Vec<String> = errors
                        .iter()
                        .map(|e| format!("{}: {}: {}", spec.display(), e.field, e.message))
                        .collect();
                    return Err(Failure(EX_DATAERR, lines.join("\n")));
                }
                let record = store
                    .create_site(
                        &actor(),
                        &account.id,
                        SiteWrite {
                            name: parsed.name.clone(),
                            hosts: parsed.normalized_hosts(),
                            spec: serde_json::to_value(&parsed)?,
                        },
                        false,
                    )
                    .await?;
                println!("{}\t{}", record.id, record.name);
            }
            SiteCommand::Delete { site, config } => {
                let store = open(&load_config(config.as_deref())?).await?;
                let site = find_site(&store, &site).await?;
                if site.file_managed {
                    return Err(Failure(
                        EX_USAGE,
                        format!(
                            "site '{}' is declared in the configuration file; remove it there",
                            site.name
                        ),
                    ));
                }
                store.delete_site(&actor(), &site.id).await?;
                eprintln!("rampart: deleted site {}", site.name);
            }
        }
        Ok(())
    })
}
