//! Listing devices and inspecting one path.
use std::path::Path;

use super::{DeviceError, DeviceInfo};

/// Every whole-disk block device and every attached loop device.
pub fn discover() -> Result<Vec<DeviceInfo>, DeviceError> {
    todo!()
}

/// Inspect one path the operator named: a whole disk, a partition, a loop device or a file.
pub fn inspect(path: &Path) -> Result<DeviceInfo, DeviceError> {
    let _ = path;
    todo!()
}
