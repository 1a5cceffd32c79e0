//! Reads another process's memory with `process_vm_readv`, or, where a
//! seccomp policy refuses that system call (container runtimes' default
//! profiles do without `CAP_SYS_PTRACE`), with `pread` on `/proc/PID/mem`.

use snakescope_unwind::{MemoryReader, ReadError};
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Reads the memory of process `pid` without stopping it.
#[derive(Debug, Clone)]
pub struct RemoteReader {
    pid: libc::pid_t,
    /// An open `/proc/PID/mem` to `pread` from; `None`: `process_vm_readv`.
    mem: Option<Arc<std::fs::File>>,
}

impl RemoteReader {
    pub fn new(pid: u32) -> RemoteReader {
        RemoteReader {
            pid: pid as libc::pid_t,
            mem: None,
        }
    }

    /// A reader through `/proc/PID/mem` (the same permission check as
    /// `process_vm_readv` — ptrace read access — but no system call that a
    /// seccomp policy may refuse; one `pread` per range, no batching). The
    /// file is shared by the reader's clones and closed with the last.
    pub fn proc_mem(pid: u32) -> std::io::Result<RemoteReader> {
        let file = std::fs::File::open(format!("/proc/{pid}/mem"))?;
        Ok(RemoteReader {
            pid: pid as libc::pid_t,
            mem: Some(Arc::new(file)),
        })
    }

    /// Whether this reader goes through `/proc/PID/mem`.
    pub fn uses_proc_mem(&self) -> bool {
        self.mem.is_some()
    }

    fn pread(&self, fd: libc::c_int, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0;
        while done < buf.len() {
            let at = addr + done as u64;
            // SAFETY: `buf[done..]` is valid for writes of its length; `fd`
            // is this reader's open `/proc/PID/mem`, held open by `self`.
            let got = unsafe {
                libc::pread(
                    fd,
                    buf[done..].as_mut_ptr().cast(),
                    buf.len() - done,
                    at as libc::off_t,
                )
            };
            if got < 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(match err.raw_os_error() {
                    // An address not mapped in the target.
                    Some(libc::EIO) | Some(libc::EFAULT) => ReadError::Unmapped {
                        addr: at,
                        len: buf.len() - done,
                    },
                    Some(libc::EPERM) | Some(libc::EACCES) => ReadError::PermissionDenied,
                    Some(libc::ESRCH) => ReadError::Gone,
                    _ => ReadError::Other(err.to_string()),
                });
            }
            if got == 0 {
                // The process has exited (its memory reads as empty).
                return Err(ReadError::Gone);
            }
            done += got as usize;
        }
        Ok(())
    }
}

impl MemoryReader for RemoteReader {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(file) = &self.mem {
            return self.pread(file.as_raw_fd(), addr, buf);
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
        if self.mem.is_some() {
            for (addr, buf) in requests.iter_mut() {
                self.read(*addr, buf)?;
            }
            return Ok(());
        }
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
