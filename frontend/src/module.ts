/** The module page's Vite entry (`{% vite_entry "module" %}`); the page itself lives in `module/`. */
import { byId } from "./dom";
import { mount } from "./module/mount";
import { boot } from "./page";

void mount(boot(), byId("module-root"));
