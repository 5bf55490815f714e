// The project a page is about, shared by the project frame and its pages.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { components } from "../api/schema";

export type Project = components["schemas"]["ProjectPublic"];
export type ProjectRole = NonNullable<Project["role"]>;

export const ProjectContext = createContext<Project | null>(null);

export function useProject(): Project {
  const project = useContext(ProjectContext);
  if (!project) throw new Error("useProject outside a project page");
  return project;
}

/** Owners and maintainers manage members, keys, targets and integrations. */
export function canManage(project: Project): boolean {
  return project.role === "owner" || project.role === "maintainer";
}
