import type { ActionDef } from './context.ts';
import { groupActions } from './groups.ts';
import { imageActions } from './images.ts';
import { runtimeActions } from './runtime.ts';
import { templateActions } from './templates.ts';

export type { ActionContext, ActionDef, ActionResult } from './context.ts';

export const API_VERSION = '2018-08-08';

/** Every action the emulator answers; any other is `InvalidAction.NotFound`. */
export const ACTIONS: Readonly<Record<string, ActionDef>> = {
  ...groupActions,
  ...runtimeActions,
  ...imageActions,
  ...templateActions,
};
