//! Reads another process's memory with `process_vm_readv`.

use snakescope_unwind::{MemoryReader, ReadError};

/// Reads the memory of process `pid` without stopping it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteReader {
    pid: libc::pid_t,
}

impl RemoteReader {
    pub fn new(pid: u32) -> RemoteReader {
        RemoteReader { pid: pid as libc::pid_t }
    }
}

impl MemoryReader for RemoteReader {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if buf.is_empty() {
            return Ok(());
        }
        let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: `local` describes `buf`, which is valid for writes of
        // `buf.len()` bytes for the whole call; `remote` is only dereferenced by
        // the kernel in the other address space, which checks it.
        let got = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if got == buf.len() as isize {
            return Ok(());
        }
        if got >= 0 {
            return Err(ReadError::Short { addr, len: buf.len(), got: got as usize });
        }
        let err = std::io::Error::last_os_error();
        Err(match err.raw_os_error() {
            Some(libc::EFAULT) => ReadError::Unmapped { addr, len: buf.len() },
            Some(libc::EPERM) | Some(libc::EACCES) => ReadError::PermissionDenied,
            Some(libc::ESRCH) => ReadError::Gone,
            _ => ReadError::Other(err.to_string()),
        })
    }
}
