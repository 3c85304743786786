//! The one list shape, `{data, has_more, …}`, reached in one of two ways:
//! - numbered pages, `?page=1&per_page=20`, which add `page`, `per_page` and `total` (the web app's tables);
//! - cursor slices, `?limit=20&starting_after=<id>` or `ending_before=<id>` (the cursor part below),
//!   which add `next_cursor` and `prev_cursor` and cost the same on the thousandth slice as on the first:
//!   lists are keyset-paged on their order, newest first by `(created_at, id)`, as Stripe pages.
//!
//! Either way the answer carries a `Link` header (RFC 8288) with the `next` and `prev` requests, the
//! list's own filters kept.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

// ---- Cursors

pub(crate) const DEFAULT_LIMIT: u32 = 20;
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
    pub fn page<T: Listed>(&self, mut rows: Vec<T>) -> Page<T> {
        let has_more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let direction = self.anchor_id.as_ref().map(|(_, direction)| *direction);
        if direction == Some(Direction::Before) {
            rows.reverse();
        }
        Page::slice(rows, has_more, direction)
    }
}

/// Applies the keyset filter and the order, newest first, to a boxed query of a table with `created_at` and
/// `id` columns: what every cursor-paged store does after its own filters. `$anchor` is what
/// [`CursorRequest::anchor`] returned.
#[macro_export]
macro_rules! keyset {
    ($query:ident, $created_at:expr, $id:expr, $anchor:expr) => {{
        use $crate::http::pagination::Anchor;
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

// ---- Numbered pages and the list shape

/// The largest page a client may ask for.
pub const MAX_PER_PAGE: u32 = 100;
const DEFAULT_PER_PAGE: u32 = 20;

/// Which page of a list to return.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1). Not with `limit` and a cursor.
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
    pub fn resolve_with_default(self, default_per_page: u32) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::invalid_field("page", "must be at least 1"));
        }
        let per_page = self.per_page.unwrap_or(default_per_page);
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::invalid_field("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        // Past this, the offset would overflow; no list is that long.
        if u64::from(page) * u64::from(per_page) > i64::MAX as u64 / 2 {
            return Err(ApiError::invalid_field("page", "is too large"));
        }
        Ok(PageRequest { page, per_page })
    }

    fn is_given(&self) -> bool {
        self.page.is_some() || self.per_page.is_some()
    }
}

/// How a client asked for a list: by page number, or by cursor.
#[derive(Debug, Clone)]
pub enum ListRequest {
    Numbered(PageRequest),
    Cursor(CursorRequest),
}

/// What a store reads: a numbered page (with the list's own order), or a keyset slice newest first from an
/// anchor already placed in the order.
#[derive(Debug, Clone)]
pub enum Slice {
    Numbered(PageRequest),
    Keyset { anchor: (Anchor, Option<String>), fetch: i64 },
}

/// Item ids as cursors: letters, digits, `_` and `-`, as every id of the API is written.
fn cursor_id(id: &str) -> Option<String> {
    let plausible =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    plausible.then(|| id.to_owned())
}

impl ListRequest {
    /// Numbered pages unless `limit` or a cursor is given; both at once is refused.
    pub fn choose(page: PageQuery, cursor: CursorQuery) -> Result<Self, ApiError> {
        Self::choose_with_default(page, cursor, DEFAULT_PER_PAGE)
    }

    /// As [`Self::choose`], for lists that show `default_per_page` rows by default.
    pub fn choose_with_default(page: PageQuery, cursor: CursorQuery, default_per_page: u32) -> Result<Self, ApiError> {
        let wants_cursor = cursor.limit.is_some() || cursor.starting_after.is_some() || cursor.ending_before.is_some();
        match (page.is_given(), wants_cursor) {
            (true, true) => Err(ApiError::invalid_field(
                "page",
                "cannot be given with limit, starting_after or ending_before: page by number or by cursor",
            )),
            (_, true) => Ok(Self::Cursor(cursor.resolve(cursor_id)?)),
            (_, false) => Ok(Self::Numbered(page.resolve_with_default(default_per_page)?)),
        }
    }

    /// What the store reads; a cursor's item is placed in the order by `created_at_of`, which looks it up
    /// within the list (an id from elsewhere is refused like a malformed one).
    pub fn slice(
        &self,
        created_at_of: impl FnOnce(&str) -> Result<Option<NaiveDateTime>, ApiError>,
    ) -> Result<Slice, ApiError> {
        match self {
            Self::Numbered(page) => Ok(Slice::Numbered(*page)),
            Self::Cursor(cursor) => Ok(Slice::Keyset { anchor: cursor.anchor(created_at_of)?, fetch: cursor.fetch() }),
        }
    }

    /// The page of `rows` as the store read them for [`Self::slice`]; `total` is the whole list's size,
    /// which only numbered pages count.
    pub fn page<T: Listed>(&self, rows: Vec<T>, total: Option<i64>) -> Page<T> {
        match self {
            Self::Numbered(page) => {
                let total = total.unwrap_or(0);
                let has_more = page.offset() + i64::try_from(rows.len()).unwrap_or(i64::MAX) < total;
                Page {
                    data: rows,
                    has_more,
                    page: Some(page.page),
                    per_page: Some(page.per_page),
                    total: Some(total),
                    next_cursor: None,
                    prev_cursor: None,
                }
            }
            Self::Cursor(cursor) => cursor.page(rows),
        }
    }
}

/// An item of a list, as a cursor names it.
pub trait Listed {
    fn list_id(&self) -> &str;
}

/// One page of a list: a numbered page or a cursor slice, newest first for cursors.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Whether the list goes on past this page, in the direction it was asked for.
    pub has_more: bool,
    /// Numbered pages only: the 1-based page number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Numbered pages only: items per page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_page: Option<u32>,
    /// Numbered pages only: how many items the whole list holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Cursor slices only: pass as `starting_after` for the older items, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub next_cursor: Option<String>,
    /// Cursor slices only: pass as `ending_before` for the newer items, when there may be any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub prev_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A cursor slice of `rows` fetched in the direction of the anchor (see [`CursorRequest::page`]).
    pub(crate) fn slice(rows: Vec<T>, has_more: bool, direction: Option<Direction>) -> Self
    where
        T: Listed,
    {
        let first = rows.first().map(|item| item.list_id().to_owned());
        let last = rows.last().map(|item| item.list_id().to_owned());
        // After an anchor (or from the start), `has_more` is about older items; before one, about newer ones.
        // The other side holds at least the anchor itself.
        let (older, newer) = match direction {
            None => (has_more, false),
            Some(Direction::After) => (has_more, true),
            Some(Direction::Before) => (true, has_more),
        };
        Self {
            data: rows,
            has_more,
            page: None,
            per_page: None,
            total: None,
            next_cursor: last.filter(|_| older),
            prev_cursor: first.filter(|_| newer),
        }
    }

    /// The same page with its items converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            has_more: self.has_more,
            page: self.page,
            per_page: self.per_page,
            total: self.total,
            next_cursor: self.next_cursor,
            prev_cursor: self.prev_cursor,
        }
    }

    /// The `Link` header's value for the requests of the next and previous pages, or `None` without either.
    pub fn links(&self, req: &HttpRequest) -> Option<String> {
        let mut links = Vec::new();
        if let (Some(page), Some(per_page)) = (self.page, self.per_page) {
            let per_page = per_page.to_string();
            if self.has_more {
                links.push((page.saturating_add(1).to_string(), "next"));
            }
            if page > 1 {
                links.push(((page - 1).to_string(), "prev"));
            }
            let render = |(number, rel): (String, &str)| {
                format!("<{}>; rel=\"{rel}\"", with_query(req, &[("page", &number), ("per_page", &per_page)]))
            };
            let links: Vec<String> = links.into_iter().map(render).collect();
            return (!links.is_empty()).then(|| links.join(", "));
        }
        let limit = req_param(req, "limit").unwrap_or_else(|| DEFAULT_LIMIT.to_string());
        let mut rendered = Vec::new();
        if let Some(next) = &self.next_cursor {
            rendered
                .push(format!("<{}>; rel=\"next\"", with_query(req, &[("limit", &limit), ("starting_after", next)])));
        }
        if let Some(prev) = &self.prev_cursor {
            rendered
                .push(format!("<{}>; rel=\"prev\"", with_query(req, &[("limit", &limit), ("ending_before", prev)])));
        }
        (!rendered.is_empty()).then(|| rendered.join(", "))
    }
}

/// The parameters that say which page; every other one (the list's filters) is kept in the links.
const PAGING: [&str; 5] = ["page", "per_page", "limit", "starting_after", "ending_before"];

fn req_param(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The request's path and filters with `paging` in place of its own paging parameters.
fn with_query(req: &HttpRequest, paging: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if !PAGING.contains(&key.as_ref()) {
            query.append_pair(&key, &value);
        }
    }
    for (key, value) in paging {
        query.append_pair(key, value);
    }
    format!("{}?{}", req.path(), query.finish())
}

/// Adds the `Link` header of `links` (see [`Page::links`]) to a response.
pub fn respond_with_links(body: &impl Serialize, links: Option<String>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some(value) = links.and_then(|links| header::HeaderValue::from_str(&links).ok()) {
        response.insert_header((header::LINK, value));
    }
    response.json(body)
}

impl<T: Serialize> Responder for Page<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let links = self.links(req);
        respond_with_links(&self, links)
    }
}

impl Slice {
    pub fn is_numbered(&self) -> bool {
        matches!(self, Self::Numbered(_))
    }
}

/// Loads a [`Slice`] of the boxed query that `$query` (a closure) builds with the list's filters: a numbered
/// page in the list's `order`, or a keyset slice on `(created_at, id)` newest first.
#[macro_export]
macro_rules! load_slice {
    ($conn:expr, $query:expr, $slice:expr, order: $order:expr, keyset: ($created_at:expr, $id:expr), select: $select:expr) => {{
        match $slice {
            $crate::http::pagination::Slice::Numbered(page) => {
                $query().order($order).limit(page.limit()).offset(page.offset()).select($select).load($conn)
            }
            $crate::http::pagination::Slice::Keyset { anchor, fetch } => {
                let mut query = $query();
                $crate::keyset!(query, $created_at, $id, anchor.clone());
                query.limit(*fetch).select($select).load($conn)
            }
        }
    }};
}
