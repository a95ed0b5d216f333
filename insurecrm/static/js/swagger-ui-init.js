/* Starts Swagger UI at /api/v1/docs with the settings the page carries as JSON (no inline script). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("swagger-ui-config").textContent);
  window.addEventListener("load", function () {
    window.ui = window.SwaggerUIBundle(config);
  });
})();
