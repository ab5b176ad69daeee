//! Password hashing with argon2id.
//!
//! Hashes are stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which carry
//! their own parameters. [`PasswordHasher::verify`] always uses the parameters found in the stored
//! string, so the configured parameters can be raised later without invalidating old hashes.
//!
//! Each hash allocates `memory_kib` KiB and is CPU-bound for tens of milliseconds (much longer on a
//! Raspberry Pi): call these functions on a blocking thread, and bound how many run at once.
//!
//! Nothing in this module logs, prints or stores a password, and no error message contains one.

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{Error as PhcError, PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Fixed salt for [`PasswordHasher::verify_dummy`]. Its output is thrown away, so it need not be
/// secret or random; it only has to be a valid argon2 salt of the usual length.
const DUMMY_SALT: &[u8; 16] = b"classcord-dummy!";

/// Output length of the argon2 hashes, in bytes (the argon2 crate's default).
const OUTPUT_LEN: usize = 32;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory cost in KiB (each hash allocates this much).
    pub memory_kib: u32,
    /// Number of passes over the memory (time cost).
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl Default for HashParams {
    /// The OWASP recommendation for argon2id: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        HashParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl fmt::Display for HashParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argon2id m={} KiB, t={}, p={}",
            self.memory_kib, self.iterations, self.parallelism
        )
    }
}

/// Errors from hashing or verifying a password.
#[derive(Debug)]
pub enum PasswordError {
    /// The configured argon2 parameters are out of range (the text says which one).
    InvalidParams(String),
    /// Hashing failed, or a stored hash is malformed or uses an unsupported algorithm.
    Hash(String),
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::InvalidParams(why) => {
                write!(f, "invalid argon2 password hashing parameters: {why}")
            }
            PasswordError::Hash(why) => write!(f, "password hashing failed: {why}"),
        }
    }
}

impl std::error::Error for PasswordError {}

/// Hashes and verifies passwords with argon2id. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    argon2: Argon2<'static>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Creates a hasher for new hashes with `params`.
    ///
    /// Returns [`PasswordError::InvalidParams`] if argon2 rejects the parameters (for example
    /// `iterations == 0`, `parallelism == 0`, or `memory_kib < 8 * parallelism`).
    pub fn new(params: HashParams) -> Result<Self, PasswordError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|err| PasswordError::InvalidParams(format!("{err} ({params})")))?;
        Ok(PasswordHasher {
            params,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
        })
    }

    /// The parameters used for new hashes.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// Hashes `password` with a fresh random salt and returns the argon2id PHC string
    /// (`$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`).
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.argon2
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| PasswordError::Hash(err.to_string()))
    }

    /// Verifies `password` against a stored PHC string, using the algorithm and parameters
    /// stored in that string (not this hasher's), so older hashes stay valid after the
    /// configured parameters change.
    ///
    /// Returns `Ok(false)` for a wrong password, and `Err` if the string is not a complete
    /// argon2 PHC hash or its parameters are invalid.
    pub fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        let parsed = PasswordHash::new(phc).map_err(|err| {
            PasswordError::Hash(format!("stored password hash is malformed: {err}"))
        })?;
        if parsed.salt.is_none() || parsed.hash.is_none() {
            // The verifier would report such a string as a wrong password; it is malformed.
            return Err(PasswordError::Hash(
                "stored password hash has no salt or no hash value".to_owned(),
            ));
        }
        match self.argon2.verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(PhcError::PasswordInvalid) => Ok(false),
            Err(err) => Err(PasswordError::Hash(format!(
                "cannot verify against the stored password hash: {err}"
            ))),
        }
    }

    /// Does the same work as [`verify`](Self::verify) against a hash made with this hasher's
    /// parameters, then returns `false`. Call it when the user does not exist, so that the
    /// response time does not reveal which names are registered.
    pub fn verify_dummy(&self, password: &str) -> bool {
        let mut out = [0u8; OUTPUT_LEN];
        // The result is thrown away: an error (out of memory) changes nothing for the caller.
        let _ = self
            .argon2
            .hash_password_into(password.as_bytes(), DUMMY_SALT, &mut out);
        std::hint::black_box(&out);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so the tests stay fast.
    fn small() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(small()).expect("valid test params")
    }

    #[test]
    fn hash_then_verify_round_trip() {
        let h = hasher();
        let phc = h.hash("correct horse battery staple").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert_eq!(
            h.verify("correct horse battery staple", &phc).ok(),
            Some(true)
        );
    }

    #[test]
    fn wrong_password_is_false_not_error() {
        let h = hasher();
        let phc = h.hash("secret").expect("hash");
        assert_eq!(h.verify("Secret", &phc).ok(), Some(false));
        assert_eq!(h.verify("", &phc).ok(), Some(false));
    }

    #[test]
    fn salts_are_random() {
        let h = hasher();
        let a = h.hash("same").expect("hash");
        let b = h.hash("same").expect("hash");
        assert_ne!(a, b);
        assert_eq!(h.verify("same", &a).ok(), Some(true));
        assert_eq!(h.verify("same", &b).ok(), Some(true));
    }

    #[test]
    fn default_params_are_owasp_and_appear_in_phc() {
        let params = HashParams::default();
        assert_eq!(
            params,
            HashParams {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1
            }
        );
        let h = PasswordHasher::new(params).expect("default params are valid");
        assert_eq!(h.params(), params);
        let phc = h.hash("pw").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(h.verify("pw", &phc).ok(), Some(true));
    }

    #[test]
    fn custom_params_appear_in_phc() {
        let h = PasswordHasher::new(HashParams {
            memory_kib: 2048,
            iterations: 3,
            parallelism: 2,
        })
        .expect("valid");
        let phc = h.hash("pw").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=2048,t=3,p=2$"), "{phc}");
    }

    #[test]
    fn verify_uses_params_stored_in_the_hash() {
        let old = PasswordHasher::new(HashParams {
            memory_kib: 512,
            iterations: 2,
            parallelism: 1,
        })
        .expect("valid");
        let phc = old.hash("pw").expect("hash");
        let new = hasher();
        assert_ne!(old.params(), new.params());
        assert_eq!(new.verify("pw", &phc).ok(), Some(true));
        assert_eq!(new.verify("nope", &phc).ok(), Some(false));
    }

    #[test]
    fn malformed_phc_is_an_error() {
        let h = hasher();
        let good = h.hash("pw").expect("hash");
        let no_hash = good.rsplit_once('$').map(|(head, _)| head).unwrap_or("");
        for bad in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=1024,t=1,p=1",
            no_hash,
            "$argon2id$v=19$m=1024,t=1,p=1$!!!!$????",
            "$unknown$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(h.verify("pw", bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn invalid_params_are_rejected() {
        for params in [
            HashParams {
                iterations: 0,
                ..small()
            },
            HashParams {
                parallelism: 0,
                ..small()
            },
            HashParams {
                memory_kib: 4,
                ..small()
            },
        ] {
            assert!(matches!(
                PasswordHasher::new(params),
                Err(PasswordError::InvalidParams(_))
            ));
        }
    }

    #[test]
    fn verify_dummy_is_false() {
        let h = hasher();
        assert!(!h.verify_dummy("anything"));
        assert!(!h.verify_dummy(""));
    }

    #[test]
    fn debug_and_errors_do_not_show_passwords() {
        let h = hasher();
        assert!(!format!("{h:?}").contains("hunter2"));
        let err = h.verify("hunter2", "garbage").expect_err("malformed");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn hasher_is_send_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<PasswordHasher>();
    }
}
