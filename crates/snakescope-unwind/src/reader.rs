//! The one way the walker touches target memory.

/// Why a read of target memory failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {len} bytes at `{addr:#x}`: address not mapped")]
    Unmapped { addr: u64, len: usize },
    #[error("permission denied reading the target's memory")]
    PermissionDenied,
    #[error("the target process has exited")]
    Gone,
    #[error("short read at `{addr:#x}`: {got} of {len} bytes")]
    Short { addr: u64, len: usize, got: usize },
    #[error("reading target memory failed: {0}")]
    Other(String),
}

/// Reads bytes from some address space (another process, or our own).
pub trait MemoryReader {
    /// Fills `buf` from `addr`, entirely or not at all.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError>;

    /// Fills every buffer from its address; all or nothing. Readers that can
    /// do this in one system call override it.
    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> Result<(), ReadError> {
        for (addr, buf) in requests.iter_mut() {
            self.read(*addr, buf)?;
        }
        Ok(())
    }

    fn read_u64(&self, addr: u64) -> Result<u64, ReadError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(&self, addr: u64) -> Result<u32, ReadError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, ReadError> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }
}

/// Little-endian field access in a buffer already read from the target.
pub(crate) fn u64_at(buf: &[u8], offset: u64) -> u64 {
    let o = offset as usize;
    buf.get(o..o + 8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

pub(crate) fn u32_at(buf: &[u8], offset: u64) -> u32 {
    let o = offset as usize;
    buf.get(o..o + 4)
        .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

pub(crate) fn u8_at(buf: &[u8], offset: u64) -> u8 {
    buf.get(offset as usize).copied().unwrap_or(0)
}
