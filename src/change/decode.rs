//! Decoding a stored change's row images (JSON, as the capture triggers render them) into the
//! typed images of its table, once, at the transform's edge.

use serde::{de::DeserializeOwned, Deserialize};

use super::{ChangeRow, Op};

/// Which image of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Before,
    After,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Before => "before",
            Side::After => "after",
        })
    }
}

/// Why a stored change (or a row a snapshot job read) cannot be understood.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("unknown table '{0}'")]
    UnknownTable(String),
    #[error("the {0} image is missing")]
    MissingImage(Side),
    #[error("the {side} image does not decode")]
    BadImage {
        side: Side,
        #[source]
        source: serde_json::Error,
    },
    /// A column of a row a snapshot job read does not decode into the table's image.
    #[error("a column of the row does not decode")]
    Column(#[source] tokio_postgres::Error),
    /// An image does not encode as JSON.
    #[error("the image does not encode as JSON")]
    Encode(#[source] serde_json::Error),
}

/// The order a line, a payment or a rating belonged to, from its before image.
#[derive(Deserialize)]
struct OrderOf {
    order_id: i32,
}

impl ChangeRow {
    /// The image the op calls for: `after` for inserts and updates, `before` for deletes.
    pub(crate) fn image<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        self.side(if self.op == Op::Delete { Side::Before } else { Side::After })
    }

    /// One image.
    pub(crate) fn side<T: DeserializeOwned>(&self, side: Side) -> Result<T, DecodeError> {
        let text = match side {
            Side::Before => &self.before,
            Side::After => &self.after,
        };
        let text = text.as_deref().ok_or(DecodeError::MissingImage(side))?;
        serde_json::from_str(text).map_err(|source| DecodeError::BadImage { side, source })
    }

    /// For an update of a row that belongs to order `order_id` (a line, a payment, a rating) whose
    /// before image names another order: the order it left.
    pub(crate) fn moved_from(&self, order_id: i32) -> Result<Option<i32>, DecodeError> {
        if self.op != Op::Update || self.before.is_none() {
            return Ok(None);
        }
        let before: OrderOf = self.side(Side::Before)?;
        Ok((before.order_id != order_id).then_some(before.order_id))
    }

    /// Whether the change deleted its row.
    pub(crate) fn is_delete(&self) -> bool {
        self.op == Op::Delete
    }
}

/// `image` as JSON (the shape a captured change carries).
pub(crate) fn to_json(image: &impl serde::Serialize) -> Result<String, DecodeError> {
    serde_json::to_string(image).map_err(DecodeError::Encode)
}
