import { cloudErrors } from '../cloud-errors.ts';
import { readTags } from '../params.ts';
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
      for (const v of (p.string('VSwitchId') ?? '').split(',').filter((s) => s.trim() !== '')) {
        if (!region.vSwitches.some((x) => x.id === v.trim())) throw cloudErrors.vSwitchNotFound(v.trim());
      }
      const r = await ctx.core.imageCaches.create({
        name,
        images,
        size: p.int('ImageCacheSize', { min: 20, max: 2000 }) ?? 20,
        retentionDays: p.int('RetentionDays', { min: 1, max: 36500 }),
        eliminationStrategy: p.oneOf('EliminationStrategy', ['LRU']),
        tags: readTags(p).map((t) => ({ key: t.key, value: t.value ?? '' })),
        clientToken: readClientToken(p),
        resourceGroupId: p.string('ResourceGroupId') || undefined,
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
      const tags = readTags(p);
      const page = paginate(
        [...ctx.core.store.imageCaches.values()].sort((a, b) => a.seq - b.seq),
        (r) =>
          (ids.length === 0 || ids.includes(r.id)) &&
          (name === undefined || r.name === name) &&
          (snapshot === undefined || r.snapshotId === snapshot) &&
          (image === undefined || r.images.includes(image)) &&
          match.every((m) =>
            full ? r.images.includes(m) : r.images.some((i) => i.startsWith(m.split(':')[0]!)),
          ) &&
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
      await ctx.core.imageCaches.delete(ctx.params.requiredString('ImageCacheId'));
      return {};
    },
  },
};
