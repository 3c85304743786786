//! Public billing information.

use actix_web::{get, web};

use super::model::Tier;
use crate::db::{self, DbPool};
use crate::error::ApiError;

/// The plans with their limits, features and prices, cheapest first. Public, for the pricing page.
#[utoipa::path(
    tag = "billing",
    operation_id = "list_tiers",
    responses((status = 200, description = "All tiers", body = Vec<Tier>)),
)]
#[get("/tiers")]
pub async fn list_tiers(pool: web::Data<DbPool>) -> Result<web::Json<Vec<Tier>>, ApiError> {
    Ok(web::Json(db::run(&pool, super::service::list_tiers).await?))
}
