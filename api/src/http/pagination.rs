//! The one pagination convention: `?page=1&per_page=20` in, `{data, page, per_page, total}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The largest page a client may ask for.
pub const MAX_PER_PAGE: u32 = 100;
const DEFAULT_PER_PAGE: u32 = 20;

/// Which page of a list to return.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1, example = 1)]
    pub page: Option<u32>,
    /// Items per page (default 20, at most 100).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub per_page: Option<u32>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    /// Rows to skip.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    /// Rows to return.
    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
}

impl PageQuery {
    /// Checks the numbers, with `default_per_page` for lists that show fewer rows by default.
    pub fn resolve_with_default(self, default_per_page: u32) -> Result<PageRequest, crate::error::ApiError> {
        let page = self.page.unwrap_or(1);
        if page == 0 {
            return Err(crate::error::ApiError::invalid_field("page", "must be at least 1"));
        }
        let per_page = self.per_page.unwrap_or(default_per_page);
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(crate::error::ApiError::invalid_field(
                "per_page",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        // Past this, the offset would overflow; no list is that long.
        if u64::from(page) * u64::from(per_page) > i64::MAX as u64 / 2 {
            return Err(crate::error::ApiError::invalid_field("page", "is too large"));
        }
        Ok(PageRequest { page, per_page })
    }

    pub fn resolve(self) -> Result<PageRequest, crate::error::ApiError> {
        self.resolve_with_default(DEFAULT_PER_PAGE)
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    /// How many items the whole list holds.
    pub total: i64,
}

impl<T> Page<T> {
    pub fn new(data: Vec<T>, request: PageRequest, total: i64) -> Self {
        Self { data, page: request.page, per_page: request.per_page, total }
    }
}
