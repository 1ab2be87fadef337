// The default report of internal errors, shared by every layer that reports (audit sinks, the guard).

/** The default `onError` of the guard and the audit sinks: the context and the error's message, nothing more. */
export function logErrorToConsole(error: unknown, context: string): void {
  console.error(`tokenfence: ${context}: ${error instanceof Error ? error.message : String(error)}`);
}
