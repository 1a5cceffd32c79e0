//! Reads another process's memory with `process_vm_readv`.

use snakescope_unwind::{MemoryReader, ReadError};

/// Reads the memory of process `pid` without stopping it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteReader {
    pid: libc::pid_t,
}

impl RemoteReader {
    pub fn new(pid: u32) -> RemoteReader {
        RemoteReader {
            pid: pid as libc::pid_t,
        }
    }
}

impl MemoryReader for RemoteReader {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if buf.is_empty() {
            return Ok(());
        }
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` describes `buf`, which is valid for writes of
        // `buf.len()` bytes for the whole call; `remote` is only dereferenced by
        // the kernel in the other address space, which checks it.
        let got = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if got == buf.len() as isize {
            return Ok(());
        }
        if got >= 0 {
            return Err(ReadError::Short {
                addr,
                len: buf.len(),
                got: got as usize,
            });
        }
        Err(last_error(addr, buf.len()))
    }

    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> Result<(), ReadError> {
        for batch in requests.chunks_mut(IOV_BATCH) {
            let local: Vec<libc::iovec> = batch
                .iter_mut()
                .map(|(_, buf)| libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: buf.len(),
                })
                .collect();
            let remote: Vec<libc::iovec> = batch
                .iter()
                .map(|(addr, buf)| libc::iovec {
                    iov_base: *addr as *mut libc::c_void,
                    iov_len: buf.len(),
                })
                .collect();
            let want: usize = batch.iter().map(|(_, b)| b.len()).sum();
            // SAFETY: each local iovec describes one of the `batch` buffers,
            // which are valid for writes of their length and outlive the call;
            // remote iovecs are only dereferenced by the kernel in the target.
            let got = unsafe {
                libc::process_vm_readv(
                    self.pid,
                    local.as_ptr(),
                    local.len() as libc::c_ulong,
                    remote.as_ptr(),
                    remote.len() as libc::c_ulong,
                    0,
                )
            };
            if got < 0 {
                return Err(last_error(batch[0].0, want));
            }
            if got as usize != want {
                return Err(ReadError::Short {
                    addr: batch[0].0,
                    len: want,
                    got: got as usize,
                });
            }
        }
        Ok(())
    }
}

/// Iovecs per `process_vm_readv` call (the kernel accepts up to `IOV_MAX`, 1024).
const IOV_BATCH: usize = 1024;

fn last_error(addr: u64, len: usize) -> ReadError {
    {
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EFAULT) => ReadError::Unmapped { addr, len },
            Some(libc::EPERM) | Some(libc::EACCES) => ReadError::PermissionDenied,
            Some(libc::ESRCH) => ReadError::Gone,
            _ => ReadError::Other(err.to_string()),
        }
    }
}
