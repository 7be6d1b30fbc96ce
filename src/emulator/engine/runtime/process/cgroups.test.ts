import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCgroupMounts, parseProcCgroup } from './cgroups.ts';

describe('cgroup discovery', () => {
  it('reads cgroup mounts (v1 hierarchies and the v2 one) from mountinfo', () => {
    const mounts = parseCgroupMounts(
      [
        '35 25 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
        '36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
        '37 25 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
        '22 1 8:1 / / rw,relatime - ext4 /dev/vda rw',
      ].join('\n'),
    );
    assert.deepEqual(
      mounts.map((m) => [m.point, m.type, m.options.includes('cpuacct')]),
      [
        ['/sys/fs/cgroup/memory', 'cgroup', false],
        ['/sys/fs/cgroup/cpu,cpuacct', 'cgroup', true],
        ['/sys/fs/cgroup/unified', 'cgroup2', false],
      ],
    );
  });

  it('reads the process cgroup of each controller', () => {
    const own = parseProcCgroup('4:memory:/a/b\n2:cpu,cpuacct:/\n0::/user.slice/x.scope\n');
    assert.equal(own.get('memory'), '/a/b');
    assert.equal(own.get('cpuacct'), '/');
    assert.equal(own.get(''), '/user.slice/x.scope');
  });
});
