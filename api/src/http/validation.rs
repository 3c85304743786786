//! Custom validator rules shared by request bodies. (Turning validator's errors into the `errors` map of
//! a 422 problem is `ApiError`'s `From<ValidationErrors>`, in `error.rs`.)

/// Refuses strings that are empty or only whitespace (names are stored trimmed).
pub fn not_blank(value: &str) -> Result<(), validator::ValidationError> {
    if value.trim().is_empty() {
        return Err(validator::ValidationError::new("blank").with_message("must not be blank".into()));
    }
    Ok(())
}
