/**
 * Test control planes are named after ECI_VN_TEST_CLUSTER (default `test`), so several checkouts can
 * run their suites side by side; a file that needs a cluster of its own adds a suffix.
 */
export function testClusterName(suffix?: string): string {
  const base = process.env.ECI_VN_TEST_CLUSTER || 'test';
  return suffix ? `${base}-${suffix}` : base;
}
