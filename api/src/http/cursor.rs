//! Cursor pagination, as Stripe pages: `limit` with `starting_after` or `ending_before` (the id of an item
//! of the list) in, `{data, has_more}` out. Lists are keyset-paged on their order, newest first by
//! `(created_at, id)`, so that page 1,000 costs what page 1 does.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// Which slice of a list to return.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CursorQuery {
    /// Items to return (default 20, at most 100).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<u32>,
    /// The id of an item: the items after it in the list's order (older ones).
    #[param(max_length = 64)]
    pub starting_after: Option<String>,
    /// The id of an item: the items before it in the list's order (newer ones).
    #[param(max_length = 64)]
    pub ending_before: Option<String>,
}

/// Where a page starts: after or before an item, at its place in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The first page.
    Start,
    /// Items older than this one.
    After(NaiveDateTime),
    /// Items newer than this one.
    Before(NaiveDateTime),
}

/// A checked cursor request, with the anchor still to be looked up by the list's own store.
#[derive(Debug, Clone)]
pub struct CursorRequest {
    pub limit: u32,
    /// The anchor item's id, and which side of it.
    pub anchor_id: Option<(String, Direction)>,
}

/// Which side of the anchor a page lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    After,
    Before,
}

impl CursorQuery {
    /// Checks the numbers and that at most one cursor is given; `parse_id` checks the cursor's form.
    pub fn resolve(self, parse_id: impl Fn(&str) -> Option<String>) -> Result<CursorRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let anchor = match (self.starting_after, self.ending_before) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_field("ending_before", "cannot be given with starting_after"));
            }
            (Some(id), None) => Some((checked(&parse_id, "starting_after", &id)?, Direction::After)),
            (None, Some(id)) => Some((checked(&parse_id, "ending_before", &id)?, Direction::Before)),
            (None, None) => None,
        };
        Ok(CursorRequest { limit, anchor_id: anchor })
    }
}

fn checked(parse_id: &impl Fn(&str) -> Option<String>, field: &str, id: &str) -> Result<String, ApiError> {
    parse_id(id).ok_or_else(|| ApiError::invalid_field(field, "must be the id of an item of this list"))
}

impl CursorRequest {
    /// The anchor at its place in the order, given how to find an item's `created_at` (scoped to the
    /// list: an id from elsewhere is not found, and is refused like a malformed one).
    pub fn anchor(
        &self,
        created_at_of: impl FnOnce(&str) -> Result<Option<NaiveDateTime>, ApiError>,
    ) -> Result<(Anchor, Option<String>), ApiError> {
        let Some((id, direction)) = &self.anchor_id else { return Ok((Anchor::Start, None)) };
        let field = match direction {
            Direction::After => "starting_after",
            Direction::Before => "ending_before",
        };
        let created_at = created_at_of(id)?
            .ok_or_else(|| ApiError::invalid_field(field, "must be the id of an item of this list"))?;
        let anchor = match direction {
            Direction::After => Anchor::After(created_at),
            Direction::Before => Anchor::Before(created_at),
        };
        Ok((anchor, Some(id.clone())))
    }

    /// Rows to fetch: one more than the page, to tell whether there are more.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The page from rows fetched in the direction of the anchor (newest first after it, oldest first
    /// before it), newest first.
    pub fn page<T>(&self, mut rows: Vec<T>) -> CursorPage<T> {
        let has_more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        if matches!(self.anchor_id, Some((_, Direction::Before))) {
            rows.reverse();
        }
        CursorPage { data: rows, has_more }
    }
}

/// One slice of a list, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CursorPage<T> {
    pub data: Vec<T>,
    /// Whether the list goes on past this slice, in the direction it was asked for.
    pub has_more: bool,
}

/// Applies the keyset filter and the order, newest first, to a boxed query of a table with `created_at` and
/// `id` columns: what every cursor-paged store does after its own filters. `$anchor` is what
/// [`CursorRequest::anchor`] returned.
#[macro_export]
macro_rules! keyset {
    ($query:ident, $created_at:expr, $id:expr, $anchor:expr) => {{
        use $crate::http::cursor::Anchor;
        $query = match $anchor {
            (Anchor::After(at), Some(id)) => $query
                .filter($created_at.lt(at).or($created_at.eq(at).and($id.lt(id))))
                .order(($created_at.desc(), $id.desc())),
            (Anchor::Before(at), Some(id)) => $query
                .filter($created_at.gt(at).or($created_at.eq(at).and($id.gt(id))))
                .order(($created_at.asc(), $id.asc())),
            _ => $query.order(($created_at.desc(), $id.desc())),
        };
    }};
}
