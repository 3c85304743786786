//! `vigil demo`: a demo company with every page of the web app filled — employees, agents online and
//! offline, activity and screenshots, invoices in every status, alerts of every type — built through the
//! same services the API uses, so the data obeys every rule the product has.

use chrono::{Duration, Utc};
use diesel::prelude::*;

use crate::accounts::model::{CreateUserRequest, Role, SignupRequest};
use crate::activity::model::{ActivityBatch, ActivityRecordInput, ActivityState};
use crate::agents::model::{CreateEnrollmentTokenRequest, EnrollRequest};
use crate::agents::service::AgentIdentity;
use crate::alerts::model::{AlertType, NewAlert};
use crate::audit::model::AuditActor;
use crate::billing::model::InvoiceRow;
use crate::config::Config;
use crate::db::{self, DbConn, DbPool};
use crate::employees::model::CreateEmployeeRequest;
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::storage::blobs::BlobStore;

/// The demo owner's sign-in.
pub const DEMO_EMAIL: &str = "demo@vigil.test";
pub const DEMO_PASSWORD: &str = "vigil-demo-password";

/// A screenshot of a made-up desktop (an editor and a browser), shown in place of real ones.
const DESKTOP_PNG: &[u8] = include_bytes!("desktop.png");

/// What `vigil demo` did.
pub struct DemoReport {
    pub created: bool,
    pub company: String,
}

const PEOPLE: [(&str, &str, &str); 12] = [
    ("Ada Lovelace", "Engineering", "Staff Engineer"),
    ("Grace Hopper", "Engineering", "Engineering Manager"),
    ("Alan Turing", "Research", "Principal Researcher"),
    ("Katherine Johnson", "Research", "Data Scientist"),
    ("Linus Pauling", "Operations", "Operations Lead"),
    ("Margaret Hamilton", "Engineering", "Software Engineer"),
    ("Claude Shannon", "Research", "Researcher"),
    ("Hedy Lamarr", "Design", "Product Designer"),
    ("Tim Berners-Lee", "Engineering", "Web Engineer"),
    ("Radia Perlman", "Operations", "Network Engineer"),
    ("Barbara Liskov", "Engineering", "Architect"),
    ("Dennis Ritchie", "Support", "Support Engineer"),
];

/// Seeds the demo company unless it exists. Refused in production: it creates a known password.
pub async fn seed(pool: &DbPool, config: &Config) -> anyhow::Result<DemoReport> {
    anyhow::ensure!(
        config.environment != crate::config::Environment::Production,
        "vigil demo seeds a known password; it is refused when VIGIL_ENV=production"
    );
    if let Some(company) = db::run(pool, existing_demo).await.map_err(problem)? {
        return Ok(DemoReport { created: false, company });
    }
    let origin = AuditActor { company_id: None, ..AuditActor::system(&CompanyId::generate(), "demo") };
    let request = SignupRequest {
        company_name: "Acme Demo".to_owned(),
        name: "Dana Demo".to_owned(),
        email: DEMO_EMAIL.to_owned(),
        password: DEMO_PASSWORD.to_owned(),
        return_refresh_token: false,
    };
    let opened = crate::accounts::service::signup(pool, config.jwt_secret.clone(), i64::MAX, origin, request)
        .await
        .map_err(problem)?;
    let company = opened.session.company.id.clone();
    let owner = opened.session.user.id.clone();
    let actor = AuditActor::system(&company, "demo").in_company(&company);
    let blobs = BlobStore::open(&config.object_store_url)?;
    for (name, role) in [("Avery Admin", Role::Admin), ("Morgan Manager", Role::Manager), ("Vic Viewer", Role::Viewer)]
    {
        let request = CreateUserRequest {
            email: format!("{}@vigil.test", name.split(' ').next().unwrap_or("user").to_lowercase()),
            name: name.to_owned(),
            role,
            password: Some(DEMO_PASSWORD.to_owned()),
        };
        crate::accounts::service::create_user(pool, actor.clone(), Role::Owner, company.clone(), request)
            .await
            .map_err(problem)?;
    }

    let seeded_company = company.clone();
    let agents = db::run(pool, move |conn| workforce(conn, &actor, &seeded_company)).await.map_err(problem)?;
    for agent in agents.iter().take(4) {
        record_day(pool, &blobs, agent).await?;
    }
    let billed = company.clone();
    db::run(pool, move |conn| billing_history(conn, &billed)).await.map_err(problem)?;
    // Three agents have been silent for hours: the sweep raises AGENT_OFFLINE for them as it would live.
    crate::sweeps::alerts::sweep(pool).await.map_err(problem)?;
    let alerted = company.clone();
    db::run(pool, move |conn| remaining_alerts(conn, &alerted, &owner)).await.map_err(problem)?;
    Ok(DemoReport { created: true, company: company.to_string() })
}

fn problem(error: ApiError) -> anyhow::Error {
    let problem = error.problem();
    match problem.errors {
        Some(fields) => anyhow::anyhow!("{} {fields:?}", problem.detail),
        None => anyhow::anyhow!("{}", problem.detail),
    }
}

fn existing_demo(conn: &mut DbConn) -> Result<Option<String>, ApiError> {
    use crate::db::schema::users;
    Ok(users::table.filter(users::email.eq(DEMO_EMAIL)).select(users::company_id).first(conn).optional()?)
}

/// PRO with a live period, 42 employees (over 80% of PRO's 50, so USAGE_HIGH is real), a policy with
/// screenshots and website tracking, and ten agents of which three went quiet.
fn workforce(conn: &mut DbConn, actor: &AuditActor, company: &CompanyId) -> Result<Vec<AgentIdentity>, ApiError> {
    let now = crate::db::now();
    let mut subscription = crate::billing::store::find_subscription(conn, company)?;
    subscription.tier_code = "PRO".to_owned();
    subscription.status = "ACTIVE".to_owned();
    subscription.stripe_subscription_id = Some("sub_demo".to_owned());
    subscription.current_period_start = Some(now - Duration::days(12));
    subscription.current_period_end = Some(now + Duration::days(18));
    crate::billing::store::save_subscription(conn, company, &subscription)?;

    let mut policy = crate::policy::service::get(conn, company)?.body.settings;
    policy.screenshots_enabled = true;
    policy.website_tracking_enabled = true;
    crate::policy::service::update(conn, actor, company, &policy, &crate::http::precondition::IfMatch::none())?;

    let mut employees = Vec::new();
    for index in 0..42 {
        let (name, department, title) = PEOPLE[index % PEOPLE.len()];
        let name = if index < PEOPLE.len() { name.to_owned() } else { format!("{name} {}", index / PEOPLE.len() + 1) };
        let email = format!("{}@acme.test", name.to_lowercase().replace([' ', '-'], "."));
        let request = CreateEmployeeRequest {
            email: email.clone(),
            name,
            department: Some(department.to_owned()),
            job_title: Some(title.to_owned()),
        };
        crate::employees::service::create(conn, actor, company, &request)?;
        employees.push(email);
    }
    let token = crate::agents::service::create_token(
        conn,
        actor,
        company,
        None,
        &CreateEnrollmentTokenRequest { expires_in_hours: Some(24), max_uses: Some(20) },
    )?;
    let mut agents = Vec::new();
    for (index, email) in employees.iter().take(10).enumerate() {
        let enrollment = crate::agents::service::enroll(
            conn,
            actor,
            &EnrollRequest {
                enrollment_token: token.token.clone(),
                hostname: format!("{}-laptop", email.split('.').next().unwrap_or("demo")),
                os: ["macOS 15.1", "Windows 11", "Ubuntu 24.04"][index % 3].to_owned(),
                agent_version: "2.4.0".to_owned(),
                employee_email: Some(email.clone()),
            },
        )?;
        agents.push(crate::agents::service::authenticate(conn, &enrollment.agent_secret)?);
    }
    // Three agents went quiet hours ago: history no request can produce.
    for agent in agents.iter().skip(7) {
        crate::agents::store::set_last_seen(conn, company, &agent.agent, now - Duration::hours(3))?;
    }
    Ok(agents)
}

/// Today's working hours so far for one agent (or yesterday's, early in the UTC day): spans in a few
/// applications and sites, idle breaks, and a screenshot every hour or so.
async fn record_day(pool: &DbPool, blobs: &BlobStore, agent: &AgentIdentity) -> anyhow::Result<()> {
    let now = Utc::now();
    let start = now - Duration::hours(6);
    let apps = [
        ("Code", "main.rs — vigil", None),
        ("Firefox", "Pull request #42", Some("https://github.com/acme/vigil/pull/42")),
        ("Slack", "#engineering", None),
        ("Firefox", "Docs — Stripe API", Some("https://docs.stripe.com/api/subscriptions")),
        ("Terminal", "cargo test", None),
        ("Figma", "Billing page", Some("https://www.figma.com/file/acme")),
    ];
    let mut records = Vec::new();
    let mut at = start;
    let seed = agent.agent.as_str().bytes().map(i64::from).sum::<i64>();
    for step in 0..40_i64 {
        let minutes = 4 + (seed + step * 7) % 11;
        let (application, title, url) = apps[usize::try_from((seed + step) % 6).unwrap_or(0)];
        let idle = step % 9 == 8;
        if at + Duration::minutes(minutes) > now {
            break;
        }
        records.push(ActivityRecordInput {
            id: format!("demo-{step}"),
            state: if idle { ActivityState::Idle } else { ActivityState::Active },
            application: application.to_owned(),
            window_title: Some(title.to_owned()),
            url: url.map(str::to_owned),
            started_at: at,
            ended_at: at + Duration::minutes(minutes),
        });
        at += Duration::minutes(minutes);
    }
    let (ingesting, batch) = (agent.clone(), ActivityBatch { records });
    db::run(pool, move |conn| crate::activity::service::ingest(conn, &ingesting, &batch)).await.map_err(problem)?;
    for hour in 0..5 {
        let form = crate::screenshots::service::Upload::new(
            format!("demo-shot-{hour}"),
            start + Duration::minutes(hour * 67 + 10),
            bytes::Bytes::from_static(DESKTOP_PNG),
        )
        .map_err(problem)?;
        crate::screenshots::service::upload(pool, blobs, agent.clone(), form).await.map_err(problem)?;
    }
    Ok(())
}

/// Invoices in every status, as Stripe's webhooks would have mirrored them.
fn billing_history(conn: &mut DbConn, company: &CompanyId) -> Result<(), ApiError> {
    let now = crate::db::now();
    let statuses =
        ["PAID", "PAID", "PAID", "PAID", "PAID", "PAID", "PAID", "UNCOLLECTIBLE", "VOID", "PAID", "OPEN", "DRAFT"];
    for (index, status) in statuses.iter().enumerate() {
        let months_ago = i64::try_from(statuses.len() - 1 - index).unwrap_or(0);
        let issued = now - Duration::days(30 * months_ago + 12);
        let paid = *status == "PAID";
        let number = format!("ACME-{:04}", index + 1);
        crate::billing::store::insert_invoice(
            conn,
            &InvoiceRow {
                id: crate::ids::InvoiceId::generate().to_string(),
                company_id: company.to_string(),
                stripe_invoice_id: format!("in_demo_{index}"),
                stripe_subscription_id: Some("sub_demo".to_owned()),
                number: (*status != "DRAFT").then(|| number.clone()),
                status: (*status).to_owned(),
                amount_due: 2900,
                amount_paid: if paid { 2900 } else { 0 },
                currency: "usd".to_owned(),
                issued_at: issued,
                due_at: Some(issued + Duration::days(7)),
                paid_at: paid.then_some(issued + Duration::hours(1)),
                hosted_invoice_url: (*status != "DRAFT").then(|| format!("https://invoice.stripe.com/i/demo/{number}")),
                invoice_pdf: (*status != "DRAFT").then(|| format!("https://pay.stripe.com/invoice/demo/{number}/pdf")),
                stripe_updated_at: issued.and_utc().timestamp(),
                created_at: issued,
                updated_at: issued,
            },
        )?;
    }
    Ok(())
}

/// The alert types no seeded state raised on its own: a failed payment (and one that recovered), an
/// expiring and a cancelled subscription notice; one alert read and one resolved, as a used inbox has.
fn remaining_alerts(conn: &mut DbConn, company: &CompanyId, owner: &crate::ids::UserId) -> Result<(), ApiError> {
    use crate::alerts::service;
    service::payment_failed(conn, company, "in_demo_9", 2900, "usd", Some("Your card has insufficient funds."))?;
    service::payment_recovered(conn, company, "in_demo_9", 2900, "usd")?;
    service::payment_failed(conn, company, "in_demo_10", 2900, "usd", Some("Your card was declined."))?;
    let ends = Utc::now() + Duration::days(18);
    for (kind, title, message) in [
        (
            AlertType::SubscriptionExpiring,
            "The Pro plan ends in 18 days".to_owned(),
            format!("The subscription will not renew and ends on {} UTC.", ends.format("%Y-%m-%d")),
        ),
        (
            AlertType::SubscriptionCancelled,
            "A trial subscription was cancelled".to_owned(),
            "An earlier Enterprise trial ended without converting; the company stayed on Pro.".to_owned(),
        ),
    ] {
        service::raise(
            conn,
            company,
            NewAlert {
                kind,
                title,
                message,
                employee: None,
                data: serde_json::json!({"subscription_id": "sub_demo", "ends_at": ends, "tier": "PRO"}),
                dedup_key: format!("demo:{}", kind.as_str()),
            },
        )?;
    }
    let page =
        crate::http::pagination::ListRequest::Numbered(crate::http::pagination::PageRequest { page: 1, per_page: 100 });
    let alerts = service::list(conn, company, owner, &Default::default(), &page)?;
    if let Some(oldest) = alerts.data.last() {
        service::mark_read(conn, company, owner, &oldest.id)?;
    }
    if let Some(cancelled) = alerts.data.iter().find(|alert| alert.kind == AlertType::SubscriptionCancelled) {
        service::resolve_alert(conn, company, owner, &cancelled.id)?;
    }
    Ok(())
}
