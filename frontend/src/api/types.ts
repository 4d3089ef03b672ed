// The API's shapes, taken from the generated OpenAPI types (schema.d.ts) so the API stays the UI's contract.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Project = Schemas["Project"];
export type ProjectCreate = Schemas["ProjectCreateRequest"];
export type ProjectUpdate = Schemas["PatchedProjectRequest"];
export type Member = Schemas["Member"];
export type Role = Schemas["MemberCreateRequest"]["role"];
export type User = Schemas["User"];
export type UserCreate = Schemas["UserCreateRequest"];
export type UserUpdate = Schemas["PatchedUserUpdateRequest"];
export type UserSearchResult = Schemas["UserSearchResult"];
export type Token = Schemas["Token"];
export type TokenCreate = Schemas["TokenCreateRequest"];
export type TokenCreated = Schemas["TokenCreated"];
export type AuditEntry = Schemas["AuditEntry"];
export type CurrentPermissions = Schemas["CurrentPermissions"];
export type SystemCapabilities = Schemas["SystemCapabilities"];
export type ProjectPermissions = Schemas["ProjectPermissions"];
export type Robot = Schemas["Robot"];
export type RobotCreate = Schemas["RobotCreateRequest"];
export type RobotCreated = Schemas["RobotCreated"];
export type RobotUpdate = Schemas["PatchedRobotUpdateRequest"];
export type RobotPermission = Schemas["RobotPermissionRequest"];
export type RobotSecret = Schemas["RobotSecret"];
export type Repository = Schemas["Repository"];
export type ArtifactSummary = Schemas["ArtifactSummary"];
export type ArtifactDetail = Schemas["ArtifactDetail"];
export type Tag = Schemas["Tag"];
export type RepositoryTag = Schemas["RepositoryTag"];
export type Platform = Schemas["Platform"];
export type Health = Schemas["Health"];
export type HealthComponent = Schemas["Component"];
export type SystemSettings = Schemas["SystemSettings"];
export type SystemSettingsUpdate = Schemas["PatchedSystemSettingsRequest"];
export type SystemInfo = Schemas["SystemInfo"];
