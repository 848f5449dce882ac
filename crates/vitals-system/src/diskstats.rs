//! Whole-machine disk IO from Linux's `/proc/diskstats`.

/// Bytes read and written since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskTotals {
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub written_bytes: u64,
}

/// The kernel counts diskstats sectors in 512-byte units whatever the device's sector size.
const SECTOR_BYTES: u64 = 512;

/// Sums reads and writes over the whole devices in a `/proc/diskstats` text.
///
/// `is_whole_disk` tells which device names to count; on Linux the names listed under
/// `/sys/block` (partitions are not). Virtual devices stacked on physical ones (loop, ram,
/// zram, device-mapper, md RAID) are skipped whatever the predicate says, since their IO is
/// already counted on the devices beneath them or never reaches a disk. Lines that do not
/// parse are skipped.
///
/// ```
/// use vitals_system::parse_diskstats;
/// let text = " 254 0 vda 100 0 2048 0 50 0 4096 0 0 0 0\n 254 1 vda1 90 0 2000 0 40 0 4000 0 0 0 0\n";
/// let totals = parse_diskstats(text, |name| name == "vda");
/// assert_eq!(totals.read_bytes, 2048 * 512);
/// assert_eq!(totals.written_bytes, 4096 * 512);
/// ```
pub fn parse_diskstats(text: &str, is_whole_disk: impl Fn(&str) -> bool) -> DiskTotals {
    let mut totals = DiskTotals::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        // major minor name reads merged sectors_read ms writes merged sectors_written ...
        let (Some(&name), Some(read), Some(written)) =
            (fields.get(2), fields.get(5), fields.get(9))
        else {
            continue;
        };
        if is_stacked(name) || !is_whole_disk(name) {
            continue;
        }
        let (Ok(read), Ok(written)) = (read.parse::<u64>(), written.parse::<u64>()) else {
            continue;
        };
        totals.read_bytes = totals
            .read_bytes
            .saturating_add(read.saturating_mul(SECTOR_BYTES));
        totals.written_bytes = totals
            .written_bytes
            .saturating_add(written.saturating_mul(SECTOR_BYTES));
    }
    totals
}

fn is_stacked(name: &str) -> bool {
    ["loop", "ram", "zram", "dm-", "md"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
 254       0 vda 52000 120 4196352 30000 81000 9000 8388608 90000 0 60000 120000 0 0 0 0
 254       1 vda1 51000 120 4190000 29000 80900 9000 8388000 89000 0 59000 118000 0 0 0 0
   7       0 loop0 10 0 80 0 0 0 0 0 0 0 0 0 0 0 0
 253       0 dm-0 500 0 1000 0 200 0 400 0 0 0 0 0 0 0 0
 259       0 nvme0n1 10 0 2 0 10 0 2 0 0 0 0
garbage line
 8 0 sdb 1 0 x 0 1 0 1
";

    #[test]
    fn sums_whole_disks_only() {
        let whole = ["vda", "loop0", "dm-0", "nvme0n1", "sdb"];
        let t = parse_diskstats(SAMPLE, |n| whole.contains(&n));
        assert_eq!(t.read_bytes, (4_196_352 + 2) * 512);
        assert_eq!(t.written_bytes, (8_388_608 + 2) * 512);
    }

    #[test]
    fn empty_input_is_zero() {
        assert_eq!(parse_diskstats("", |_| true), DiskTotals::default());
    }
}
