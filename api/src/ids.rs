//! Typed identifiers. Every id is a UUIDv7 (time-ordered, so it indexes well) stored as text; the
//! newtypes keep a company id from being passed where a user id belongs.

/// Declares an id newtype that renders as its UUID string. `from_request` ids also parse from paths, queries
/// and bodies; the others cannot be built from client input at all.
macro_rules! id_type {
    ($(#[$doc:meta])* from_request $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(&value).ok_or_else(|| format!("{value:?} is not a valid id"))
            }
        }

        id_type!(@common $name);
    };
    ($(#[$doc:meta])* internal $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(into = "String")]
        pub struct $name(String);

        id_type!(@common $name);
    };
    (@common $name:ident) => {

        impl $name {
            /// A fresh id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// The id as stored and shown.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps an id read back from the database, where it was written by [`Self::generate`].
            pub(crate) fn from_db(value: String) -> Self {
                Self(value)
            }

            /// Parses a UUID from a trusted source (a verified token, a command-line argument).
            pub(crate) fn parse(value: &str) -> Option<Self> {
                uuid::Uuid::parse_str(value).ok().map(|uuid| Self(uuid.hyphenated().to_string()))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::Custom("uuid".to_owned())))
                    .examples([serde_json::json!("0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// A company (tenant). Never parsed from a request: the only company a request acts for is the one its
    /// credentials belong to, so no path, query or body can name another.
    internal CompanyId
);
id_type!(
    /// A user of a company.
    from_request UserId
);
id_type!(
    /// An API key of a company.
    from_request ApiKeyId
);
id_type!(
    /// An employee of a company.
    from_request EmployeeId
);
id_type!(
    /// A desktop agent enrolled on an employee's machine.
    from_request AgentId
);
id_type!(
    /// A token that lets agents enroll.
    from_request EnrollmentTokenId
);
id_type!(
    /// An invoice mirrored from Stripe.
    from_request InvoiceId
);
id_type!(
    /// An alert of one recipient.
    from_request AlertId
);
id_type!(
    /// A screenshot's metadata row (its blob is in the object store).
    from_request ScreenshotId
);

id_type!(
    /// An event of a company: what its webhooks send and the events API lists. Also the `webhook-id` of
    /// every delivery of it.
    from_request EventId
);
id_type!(
    /// An endpoint a company's events are sent to.
    from_request WebhookEndpointId
);

/// A normalised email address: trimmed and lower-cased, so that one person has one account.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
