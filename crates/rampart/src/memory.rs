//! Gives freed heap memory back to the system.
//!
//! Connections come and go; each active one holds tens of KiB that it frees
//! when it goes idle (parked) or closes. glibc's allocator keeps such memory in
//! its free lists, fragmented between the small allocations of idle
//! connections, so resident memory stays at its peak. `malloc_trim` returns
//! the free pages (including those in the middle of the heap) to the kernel.

use std::time::Duration;

/// How often free memory is handed back; the trim walks the heap, so not often.
const TRIM_EVERY: Duration = Duration::from_secs(3);

pub fn spawn_trimmer() {
    let spawned = std::thread::Builder::new()
        .name("rampart-memory".into())
        .spawn(|| {
            loop {
                std::thread::sleep(TRIM_EVERY);
                trim();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the memory trimmer; resident memory may stay at its peak");
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: malloc_trim takes no pointers and only reorganises the
    // allocator's own free lists; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
