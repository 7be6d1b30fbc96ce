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

/**
 * The action named `name`, looked up among the table's own entries only: the name comes off the wire,
 * and `toString` or `__proto__` must be unknown actions, not Object.prototype's members.
 */
export function actionNamed(name: string): ActionDef | undefined {
  return Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
}
