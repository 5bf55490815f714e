import type { PageProps } from "../routes";
export function SettingsPage(_: PageProps) { return <h2>Settings</h2>; }
