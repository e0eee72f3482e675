// LTI Dynamic Registration: tell the LMS to close its registration dialog.
(window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
