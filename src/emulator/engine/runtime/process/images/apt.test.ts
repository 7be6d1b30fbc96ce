import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAptShow, parseDepends, parseDependsNames, resolvePackages } from './apt.ts';

const SHOW = `Package: nginx
Version: 1.22.1-9+deb12u11
Section: httpd
Depends: libc6 (>= 2.34), libcrypt1 (>= 1:4.1.0), libpcre2-8-0 (>= 10.22), libssl3 (>= 3.0.0), zlib1g (>= 1:1.1.4), iproute2, nginx-common (= 1.22.1-9+deb12u11)
Description: small, powerful, scalable web/proxy server
 Nginx ("engine X") is a high-performance web and reverse proxy server

Package: nginx-common
Version: 1.22.1-9+deb12u11
Section: httpd
Depends: debconf (>= 0.5) | debconf-2.0, lsb-base

Package: libc6
Version: 2.36-9+deb12u13
Section: libs
Depends: libgcc-s1

Package: libgcc-s1
Version: 12.2.0-14+deb12u1
Section: libs
Pre-Depends: gcc-12-base (= 12.2.0-14+deb12u1)
Depends: libc6 (>= 2.35)

Package: gcc-12-base
Version: 12.2.0-14+deb12u1
Section: libs

Package: libcrypt1
Version: 1:4.4.33-2
Section: libs
Depends: libc6 (>= 2.36)

Package: libpcre2-8-0
Version: 10.42-1
Section: libs
Depends: libc6 (>= 2.14)

Package: libssl3
Version: 3.0.17-1~deb12u3
Section: libs
Depends: libc6 (>= 2.34)

Package: zlib1g
Version: 1:1.2.13.dfsg-1
Section: libs
Depends: libc6 (>= 2.14)

Package: iproute2
Version: 6.1.0-3
Section: net
Depends: libbpf1, libc6

Package: debconf
Version: 1.5.82
Section: admin
Depends: perl-base
`;

describe('apt', () => {
  it('parses Depends with versions, alternatives and architecture qualifiers', () => {
    assert.deepEqual(parseDepends('libc6 (>= 2.34), debconf | debconf-2.0, libfoo:any, bar [amd64]'), [
      ['libc6'],
      ['debconf', 'debconf-2.0'],
      ['libfoo'],
      ['bar'],
    ]);
    assert.deepEqual(parseDepends(''), []);
  });

  it('reads package names from apt-cache depends --recurse', () => {
    const text =
      'nginx\n  Depends: libc6\n |Depends: debconf\n  Depends: <debconf-2.0>\n    cdebconf\nlibc6\n';
    assert.deepEqual(parseDependsNames(text).sort(), ['cdebconf', 'debconf', 'libc6', 'nginx']);
  });

  it('parses apt-cache show paragraphs, continuation lines included', () => {
    const m = parseAptShow(SHOW);
    assert.equal(m.get('nginx')?.version, '1.22.1-9+deb12u11');
    assert.equal(m.get('libgcc-s1')?.depends[0]?.[0], 'gcc-12-base', 'Pre-Depends first');
    assert.equal(m.get('nginx')?.section, 'httpd');
  });

  it('an image is its packages and their library closure, not their tools', async () => {
    const all = parseAptShow(SHOW);
    const asked: string[][] = [];
    const show = async (names: string[]) => {
      asked.push(names);
      return new Map([...all].filter(([n]) => names.includes(n)));
    };
    const pkgs = await resolvePackages(['nginx', 'nginx-common'], show);
    assert.deepEqual(
      pkgs.map((p) => p.name),
      [
        'gcc-12-base',
        'libc6',
        'libcrypt1',
        'libgcc-s1',
        'libpcre2-8-0',
        'libssl3',
        'nginx',
        'nginx-common',
        'zlib1g',
      ],
    );
    assert.equal(pkgs.find((p) => p.name === 'libc6')?.version, all.get('libc6')?.version);
    assert.ok(!asked.flat().includes('perl-base'), 'what is not taken is not followed');
    await assert.rejects(resolvePackages(['no-such-package'], show), /no Debian package no-such-package/);
  });
});
