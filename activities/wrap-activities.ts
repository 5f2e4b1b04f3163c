/** An activity implementation as a worker registers it. */
export type ActivityFunction = (...args: never[]) => Promise<unknown>;

/** Applies `wrap` to every activity of a set, keeping their names and types. */
export function wrapActivities<T extends Record<string, ActivityFunction>>(
  activities: T,
  wrap: (activity: ActivityFunction, name: string) => ActivityFunction,
): T {
  return Object.fromEntries(Object.entries(activities).map(([name, activity]) => [name, wrap(activity, name)])) as T;
}
