//! Taking screenshots from agents and showing them to supervisors.

use actix_multipart::Multipart;
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

use super::model::{ImageType, Screenshot, ScreenshotFilter, ScreenshotReceipt, ScreenshotRow};
use super::store;
use crate::agents::service::AgentIdentity;
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{ListRequest, Page};
use crate::ids::{CompanyId, EmployeeId, ScreenshotId};
use crate::storage::blobs::BlobStore;
use crate::storage::links::{LINK_LIFETIME_SECS, LinkSigner, SignedQuery};

/// An upload read from its multipart form and checked.
pub struct Upload {
    client_id: String,
    taken_at: DateTime<Utc>,
    image: bytes::Bytes,
    kind: ImageType,
}

impl Upload {
    /// An upload from its parts, checked as one read from a form is.
    pub fn new(client_id: String, taken_at: DateTime<Utc>, image: bytes::Bytes) -> Result<Self, ApiError> {
        check_upload(Some(client_id), Some(taken_at.to_rfc3339()), Some(image))
    }
}

/// Reads the `id`, `taken_at` and `file` parts, holding at most `max_bytes` of image; the image must be a
/// PNG, JPEG or WebP by its content, not only by its label.
pub async fn read_upload(mut form: Multipart, max_bytes: usize) -> Result<Upload, ApiError> {
    let (mut client_id, mut taken_at, mut image) = (None, None, None);
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|error| ApiError::BadRequest(format!("The multipart body is malformed: {error}.")))?;
        let name = field.name().unwrap_or_default().to_owned();
        let cap = if name == "file" { max_bytes } else { 256 };
        let mut bytes = bytes::BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|error| ApiError::BadRequest(format!("The multipart body is malformed: {error}.")))?;
            if bytes.len() + chunk.len() > cap {
                return Err(if name == "file" {
                    ApiError::PayloadTooLarge { limit_bytes: max_bytes }
                } else {
                    ApiError::invalid_field(&name, "is too long")
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::invalid_field(&name, "must be text"));
        match name.as_str() {
            "id" => client_id = Some(text()?),
            "taken_at" => taken_at = Some(text()?),
            "file" => image = Some(bytes.freeze()),
            _ => {}
        }
    }
    check_upload(client_id, taken_at, image)
}

fn check_upload(
    client_id: Option<String>,
    taken_at: Option<String>,
    image: Option<bytes::Bytes>,
) -> Result<Upload, ApiError> {
    let mut errors = crate::error::FieldErrors::new();
    let mut fail = |field: &str, message: &str| errors.entry(field.to_owned()).or_default().push(message.to_owned());
    let client_id = client_id.filter(|id| {
        (1..=64).contains(&id.len())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
    });
    if client_id.is_none() {
        fail("id", "is required: 1 to 64 letters, digits or _ . : -");
    }
    let now = Utc::now();
    let taken_at = taken_at.and_then(|text| DateTime::parse_from_rfc3339(text.trim()).ok()).map(|t| t.to_utc());
    match taken_at {
        None => fail("taken_at", "is required: an RFC 3339 time such as 2026-11-25T09:00:00Z"),
        Some(time) if time > now + Duration::minutes(5) => fail("taken_at", "must not be in the future"),
        Some(time) if time.date_naive() < crate::http::bounds::FIRST_DAY => {
            fail("taken_at", "must not be before 1970-01-01");
        }
        Some(_) => {}
    }
    if image.as_ref().is_none_or(bytes::Bytes::is_empty) {
        fail("file", "is required: the image");
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let image = image.unwrap_or_default();
    let kind = ImageType::sniff(&image)
        .ok_or_else(|| ApiError::UnsupportedMediaType("The file must be a PNG, JPEG or WebP image.".to_owned()))?;
    Ok(Upload { client_id: client_id.unwrap_or_default(), taken_at: taken_at.unwrap_or(now), image, kind })
}

/// Stores a screenshot: refused when the policy or the plan has screenshots off; stored once per agent id;
/// the image goes to the object store before the row, and is removed again when the row is refused (the
/// storage limit, or the same screenshot arriving twice at once).
pub async fn upload(
    pool: &DbPool,
    blobs: &BlobStore,
    agent: AgentIdentity,
    upload: Upload,
) -> Result<ScreenshotReceipt, ApiError> {
    let checked = agent.clone();
    let client_id = upload.client_id.clone();
    let earlier = db::run(pool, move |conn| {
        allowed(conn, &checked.company)?;
        Ok(store::find_by_client_id(conn, &checked.company, &checked.agent, &client_id)?)
    })
    .await?;
    if let Some(id) = earlier {
        return Ok(ScreenshotReceipt { id: ScreenshotId::from_db(id), duplicate: true });
    }
    let id = ScreenshotId::generate();
    let key = format!("screenshots/{}/{id}", agent.company);
    blobs.put(&key, upload.image.clone()).await?;
    let row = ScreenshotRow {
        id: id.to_string(),
        company_id: agent.company.to_string(),
        agent_id: agent.agent.to_string(),
        employee_id: agent.employee.as_ref().map(ToString::to_string),
        client_id: upload.client_id.clone(),
        taken_at: crate::db::truncate_micros(upload.taken_at.naive_utc()),
        content_type: upload.kind.content_type().to_owned(),
        size_bytes: i64::try_from(upload.image.len()).unwrap_or(i64::MAX / 2),
        object_key: key.clone(),
        received_at: crate::db::now(),
    };
    let stored = db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            let tier = allowed(conn, &agent.company)?;
            if !store::insert_new(conn, &row)? {
                let earlier = store::find_by_client_id(conn, &agent.company, &agent.agent, &row.client_id)?;
                return Ok(ScreenshotReceipt {
                    id: earlier.map(ScreenshotId::from_db).ok_or(ApiError::NotFound("screenshot"))?,
                    duplicate: true,
                });
            }
            crate::storage::meter::reserve(conn, &agent.company, &tier, row.size_bytes)?;
            Ok(ScreenshotReceipt { id: ScreenshotId::from_db(row.id.clone()), duplicate: false })
        })
    })
    .await;
    match blob_fate(&stored) {
        BlobFate::Keep => {}
        BlobFate::Delete => {
            if let Err(error) = blobs.delete(&key).await {
                log::warn!("could not remove the blob of a refused upload: {error:#}");
            }
        }
        BlobFate::DeleteIfUnreferenced => queue_verified_deletion(pool, key).await,
    }
    stored
}

/// What becomes of an uploaded blob once its row's transaction has ended.
#[derive(Debug, PartialEq, Eq)]
enum BlobFate {
    /// A new row points at it.
    Keep,
    /// The transaction certainly did not commit (a refusal, a duplicate): nothing points at it.
    Delete,
    /// The connection failed, perhaps during COMMIT: the row may exist, so the blob goes only once it is
    /// known that no row points at it.
    DeleteIfUnreferenced,
}

fn blob_fate(stored: &Result<ScreenshotReceipt, ApiError>) -> BlobFate {
    match stored {
        Ok(receipt) if !receipt.duplicate => BlobFate::Keep,
        Ok(_) => BlobFate::Delete,
        Err(ApiError::DatabaseUnavailable(_) | ApiError::Internal(_)) => BlobFate::DeleteIfUnreferenced,
        Err(_) => BlobFate::Delete,
    }
}

/// How long a blob whose row's fate is unknown is left alone: longer than any transaction lives.
const IN_DOUBT_GRACE_MINUTES: i64 = 10;

/// Queues the deletion that checks for a row first. If even that cannot be written, the blob is left: an
/// orphan costs storage, deleting a committed screenshot's image loses data.
async fn queue_verified_deletion(pool: &DbPool, key: String) {
    let queued = key.clone();
    let outcome = db::run(pool, move |conn| {
        let now = crate::db::now();
        Ok(store::queue_unless_referenced(conn, &queued, now, now + Duration::minutes(IN_DOUBT_GRACE_MINUTES))?)
    })
    .await;
    match outcome {
        Ok(()) => log::warn!("upload of {key} ended without a known outcome; its blob goes if no row has it"),
        Err(error) => log::error!("blob {key} may be an orphan: could not queue its verified deletion: {error}"),
    }
}

/// The company's effective tier, if its plan and policy both allow screenshots.
fn allowed(conn: &mut DbConn, company: &CompanyId) -> Result<crate::billing::model::Tier, ApiError> {
    let tier = crate::billing::service::effective_tier(conn, company)?;
    if !tier.features.screenshots {
        let upgrade = crate::billing::service::cheapest_tier_with(conn, |t| t.features.screenshots)?;
        return Err(ApiError::FeatureNotInPlan {
            detail: format!(
                "The {} plan does not include screenshots.{}",
                tier.name,
                upgrade.map(|t| format!(" Upgrade to {} to use them.", t.as_str())).unwrap_or_default()
            ),
            errors: crate::error::FieldErrors::from([(
                "file".to_owned(),
                vec!["screenshots are not in the plan".to_owned()],
            )]),
        });
    }
    if !crate::policy::store::find(conn, company)?.settings.screenshots_enabled {
        return Err(ApiError::Refused {
            code: "screenshots_disabled",
            detail: "The company's policy has screenshots turned off; nothing was stored.".to_owned(),
        });
    }
    Ok(tier)
}

/// An employee's screenshots, newest first, each with a fresh link.
pub fn list(
    conn: &mut DbConn,
    signer: &LinkSigner,
    company: &CompanyId,
    employee: &EmployeeId,
    filter: &ScreenshotFilter,
    list: &ListRequest,
) -> Result<Page<Screenshot>, ApiError> {
    crate::employees::service::get(conn, company, employee)?;
    let slice = list.slice(|id| Ok(store::taken_at_of(conn, company, employee, id)?))?;
    let window = filter.date.map(|date| {
        let from = date.date().and_hms_opt(0, 0, 0).unwrap_or_default();
        (from, from + Duration::days(1))
    });
    let (rows, total) = store::list_for_employee(conn, company, employee, window, &slice)?;
    let now = Utc::now();
    Ok(list.page(rows.into_iter().map(|row| view(row, signer, now)).collect(), total))
}

pub fn get(
    conn: &mut DbConn,
    signer: &LinkSigner,
    company: &CompanyId,
    id: &ScreenshotId,
) -> Result<Screenshot, ApiError> {
    let row = store::find(conn, company, id)?.ok_or(ApiError::NotFound("screenshot"))?;
    Ok(view(row, signer, Utc::now()))
}

fn view(row: ScreenshotRow, signer: &LinkSigner, now: DateTime<Utc>) -> Screenshot {
    let expires = now + Duration::seconds(LINK_LIFETIME_SECS);
    let company = CompanyId::from_db(row.company_id);
    let url = format!("/api/v1/screenshots/{}/content?{}", row.id, signer.sign(&row.id, &company, expires.timestamp()));
    Screenshot {
        id: ScreenshotId::from_db(row.id),
        employee_id: row.employee_id.map(EmployeeId::from_db),
        agent_id: crate::ids::AgentId::from_db(row.agent_id),
        taken_at: row.taken_at.and_utc(),
        content_type: row.content_type,
        size_bytes: row.size_bytes,
        url,
        url_expires_at: expires,
    }
}

/// Deletes a screenshot at a supervisor's request: the row and its bytes at once (audited), the blob right
/// after commit, or by the next retention sweep if the store is unreachable now.
pub async fn delete(
    pool: &DbPool,
    blobs: &BlobStore,
    actor: crate::audit::model::AuditActor,
    company: CompanyId,
    id: ScreenshotId,
) -> Result<(), ApiError> {
    let key = db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            let row = store::delete_one(conn, &company, &id, crate::db::now())?.ok_or(ApiError::NotFound("screenshot"))?;
            let tier = crate::billing::service::effective_tier(conn, &company)?;
            crate::storage::meter::release(conn, &company, &tier, row.size_bytes)?;
            crate::audit::record(
                conn,
                &actor,
                crate::audit::model::AuditEvent::new("screenshot.deleted").target("screenshot", &id).details(
                    serde_json::json!({"employee_id": row.employee_id, "taken_at": row.taken_at.and_utc(), "size_bytes": row.size_bytes}),
                ),
            )?;
            Ok(row.object_key)
        })
    })
    .await?;
    match blobs.delete(&key).await {
        Ok(()) => db::run(pool, move |conn| Ok(store::forget_blob_deletion(conn, &key)?)).await,
        Err(error) => {
            log::warn!("could not delete blob {key} now; the retention sweep will: {error:#}");
            Ok(())
        }
    }
}

/// The image a signed link opens, with its content type.
pub async fn content(
    pool: &DbPool,
    blobs: &BlobStore,
    signer: &LinkSigner,
    id: ScreenshotId,
    query: &SignedQuery,
) -> Result<(String, bytes::Bytes), ApiError> {
    let company = signer.verify(id.as_str(), query, Utc::now().timestamp())?;
    let row =
        db::run(pool, move |conn| store::find(conn, &company, &id)?.ok_or(ApiError::NotFound("screenshot"))).await?;
    let image = blobs.get(&row.object_key).await?.ok_or(ApiError::NotFound("screenshot"))?;
    Ok((row.content_type, image))
}

#[cfg(test)]
mod tests {
    use super::{BlobFate, blob_fate};
    use crate::error::ApiError;
    use crate::ids::ScreenshotId;
    use crate::screenshots::model::ScreenshotReceipt;

    #[test]
    fn a_blob_is_deleted_at_once_only_when_its_row_certainly_was_not_committed() {
        let receipt = |duplicate| Ok(ScreenshotReceipt { id: ScreenshotId::generate(), duplicate });
        assert_eq!(blob_fate(&receipt(false)), BlobFate::Keep);
        assert_eq!(blob_fate(&receipt(true)), BlobFate::Delete);
        let refused = ApiError::Refused { code: "screenshots_disabled", detail: String::new() };
        assert_eq!(blob_fate(&Err(refused)), BlobFate::Delete);
        let lost = ApiError::DatabaseUnavailable(anyhow::anyhow!("server closed the connection unexpectedly"));
        assert_eq!(blob_fate(&Err(lost)), BlobFate::DeleteIfUnreferenced);
        let unknown = ApiError::Internal(anyhow::anyhow!("commit failed"));
        assert_eq!(blob_fate(&Err(unknown)), BlobFate::DeleteIfUnreferenced);
    }
}
