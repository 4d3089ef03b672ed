// The shared UI kit.
export { Badge } from "./Badge";
export type { Tone } from "./Badge";
export { Button } from "./Button";
export { ConfirmDialog } from "./ConfirmDialog";
export { CopyButton, CopyField } from "./CopyButton";
export { Dialog } from "./Dialog";
export { Field } from "./Field";
export { PageHeader } from "./PageHeader";
export { Pagination } from "./Pagination";
export { QueryView } from "./QueryView";
export { SearchInput } from "./SearchInput";
export { SortHeader } from "./SortHeader";
export { EmptyState, ErrorMessage, ErrorState, Loading, adviceFor } from "./States";
export { TabLinks } from "./Tabs";
export { SecretReveal } from "./SecretReveal";
