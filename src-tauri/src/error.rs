//! The one error the commands return: core's error as `{kind, message, exit_code}` so the window
//! can show core's message (with its next step) and branch on `kind`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct CmdError {
    pub kind: String,
    pub message: String,
    pub exit_code: u8,
}

impl CmdError {
    /// A rejected, missing, expired or replayed confirmation token (nothing was changed).
    pub fn token(message: impl Into<String>) -> CmdError {
        CmdError {
            kind: "token".into(),
            message: message.into(),
            exit_code: pipeline_db_core::exit::REFUSED,
        }
    }

    pub fn refused(message: impl Into<String>) -> CmdError {
        CmdError {
            kind: "refused".into(),
            message: message.into(),
            exit_code: pipeline_db_core::exit::REFUSED,
        }
    }

    pub fn cancelled(message: impl Into<String>) -> CmdError {
        CmdError {
            kind: "cancelled".into(),
            message: message.into(),
            exit_code: pipeline_db_core::exit::CANCELLED,
        }
    }

    pub fn internal(message: impl Into<String>) -> CmdError {
        CmdError {
            kind: "internal".into(),
            message: message.into(),
            exit_code: pipeline_db_core::exit::FAILED,
        }
    }
}

impl From<pipeline_db_core::Error> for CmdError {
    fn from(e: pipeline_db_core::Error) -> CmdError {
        CmdError {
            kind: e.kind().into(),
            message: e.to_string(),
            exit_code: e.exit_code(),
        }
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

pub type CmdResult<T> = Result<T, CmdError>;
