import { cloudErrors } from '../../engine/cloud-errors.ts';
import { readTags } from '../params.ts';
import { matchCount, normalizeImage } from '../../engine/image-caches.ts';
import { imageCacheShape } from '../render.ts';
import { checkGroupName } from '../spec.ts';
import {
  type ActionDef,
  COMMON_ACTION_PARAMS,
  matchTags,
  paginate,
  readClientToken,
  readLimit,
  readNextToken,
} from './context.ts';

export const imageActions: Record<string, ActionDef> = {
  CreateImageCache: {
    params: [
      ...COMMON_ACTION_PARAMS,
      'ZoneId',
      'SecurityGroupId',
      'VSwitchId',
      'ImageCacheName',
      'ImageRegistryCredential',
      'EipInstanceId',
      'Image',
      'ImageCacheSize',
      'RetentionDays',
      'AutoMatchImageCache',
      'Tag',
      'AcrRegistryInfo',
      'EliminationStrategy',
      'Flash',
      'FlashCopyCount',
      'StandardCopyCount',
      'InsecureRegistry',
      'PlainHttpRegistry',
      'Annotations',
    ],
    regionRequired: true,
    async handle(ctx) {
      const p = ctx.params;
      const name = p.requiredString('ImageCacheName');
      try {
        checkGroupName(name);
      } catch {
        throw cloudErrors.invalidParameter(
          'ImageCacheName',
          'Use 2 to 128 lower-case letters, digits and hyphens.',
        );
      }
      const images = p.strings('Image');
      if (images.length === 0) throw cloudErrors.missingParameter('Image.1');
      if (images.length > 20) throw cloudErrors.valueExceeded('Image', 'At most 20 images are allowed.');
      const region = ctx.core.config.region;
      const sg = p.string('SecurityGroupId') || undefined;
      if (sg !== undefined && !region.securityGroups.some((s) => s.id === sg))
        throw cloudErrors.securityGroupNotFound(sg);
      let vSwitchIds = (p.string('VSwitchId') ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      for (const v of vSwitchIds)
        if (!region.vSwitches.some((x) => x.id === v)) throw cloudErrors.vSwitchNotFound(v);
      if (vSwitchIds.length === 0) {
        // As for container groups: the security group's VPC (or the region's first), any of its zones.
        const vpc = region.securityGroups.find((s) => s.id === sg)?.vpcId ?? region.vpcs[0]!.id;
        vSwitchIds = region.vSwitches.filter((v) => v.vpcId === vpc).map((v) => v.id);
      }
      const r = await ctx.core.createImageCache({
        name,
        images,
        size: p.int('ImageCacheSize', { min: 20, max: 32768 }) ?? 20,
        retentionDays: p.int('RetentionDays', { min: 1, max: 65536 }),
        eliminationStrategy: p.oneOf('EliminationStrategy', ['LRU']),
        tags: readTags(p).map((t) => ({ key: t.key, value: t.value ?? '' })),
        clientToken: readClientToken(p),
        resourceGroupId: p.string('ResourceGroupId') || undefined,
        vSwitchIds,
        reuse: p.bool('AutoMatchImageCache') ?? false,
        flash: p.bool('Flash') ?? false,
      });
      return { ImageCacheId: r.id, ContainerGroupId: r.containerGroupId };
    },
  },

  DescribeImageCaches: {
    params: [
      ...COMMON_ACTION_PARAMS,
      'ImageCacheId',
      'ImageCacheName',
      'SnapshotId',
      'Image',
      'MatchImage',
      'ImageFullMatch',
      'ImageMatchCountRequest',
      'Tag',
      'Limit',
      'NextToken',
    ],
    regionRequired: true,
    handle(ctx) {
      const p = ctx.params;
      const limit = readLimit(ctx, 'DescribeImageCaches');
      const after = readNextToken(p);
      const ids = (p.string('ImageCacheId') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const name = p.string('ImageCacheName') || undefined;
      const snapshot = p.string('SnapshotId') || undefined;
      const image = p.string('Image') || undefined;
      const match = p.strings('MatchImage');
      const full = p.bool('ImageFullMatch') ?? false;
      const count = p.int('ImageMatchCountRequest', { min: 1 });
      // With MatchImage: caches holding all of them (ImageFullMatch), at least ImageMatchCountRequest
      // of them, or any of them; best matches first, as the cloud ranks them.
      const need = full ? new Set(match.map(normalizeImage)).size : (count ?? 1);
      const tags = readTags(p);
      let caches = ctx.core.listImageCaches().sort((a, b) => a.seq - b.seq);
      if (match.length > 0) {
        const scored = caches.map((r) => ({ r, n: matchCount(r.images, match) })).filter((x) => x.n >= need);
        scored.sort((a, b) => b.n - a.n || b.r.createdAt - a.r.createdAt);
        // Pages are cut by creation number; a ranked list is numbered afresh for this answer.
        caches = scored.map((x, i) => ({ ...x.r, seq: i + 1 }));
      }
      const page = paginate(
        caches,
        (r) =>
          (ids.length === 0 || ids.includes(r.id)) &&
          (name === undefined || r.name === name) &&
          (snapshot === undefined || r.snapshotId === snapshot) &&
          (image === undefined || r.images.some((i) => normalizeImage(i) === normalizeImage(image))) &&
          matchTags(r.tags, tags),
        after,
        limit,
      );
      const region = ctx.core.config.region.id;
      return {
        TotalCount: page.total,
        NextToken: page.nextToken,
        ImageCaches: page.items.map((r) => imageCacheShape(r, region)),
      };
    },
  },

  DeleteImageCache: {
    params: [...COMMON_ACTION_PARAMS, 'ImageCacheId'],
    regionRequired: true,
    async handle(ctx) {
      await ctx.core.deleteImageCache(ctx.params.requiredString('ImageCacheId'));
      return {};
    },
  },
};
